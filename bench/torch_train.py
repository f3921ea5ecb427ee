# PyTorch reference for bench/train-vs-pytorch.ts: the same LeNet-300-100 / LeNet-5 (as src/ml/architectures.ts
# builds them), batch, optimizer (Adam 1e-3) and softmax cross-entropy, on random MNIST-shaped data (speed does not
# depend on the values). Prints one JSON line: {"model", "threads", "samplesPerSec", "cpuMsPerStep"} for the timed
# steps (process CPU time per step: comparable across runs on a loaded machine, where samplesPerSec is not).
import json, sys, time
import torch
import torch.nn as nn

model_name, n, batch, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
torch.manual_seed(0)
if model_name == 'lenet-300-100':
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))
else:
    net = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
x = torch.rand(n, 1, 28, 28)
y = torch.randint(0, 10, (n,))
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
steps = n // batch
def step(i):
    xb, yb = x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch]
    opt.zero_grad()
    loss = loss_fn(net(xb), yb)
    loss.backward()
    opt.step()
    return loss.item()  # a host read per step, as the tfjs loop reads its loss
warm = min(5, steps // 4)
for i in range(warm): step(i)
t0 = time.perf_counter()
c0 = time.process_time()
for i in range(warm, steps): step(i)
dt = time.perf_counter() - t0
cpu = time.process_time() - c0
print(json.dumps({"model": model_name, "threads": threads, "samplesPerSec": (steps - warm) * batch / dt,
                  "cpuMsPerStep": 1000 * cpu / (steps - warm)}))
