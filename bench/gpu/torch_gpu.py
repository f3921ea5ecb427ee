# PyTorch side of bench/train-gpu.ts: LeNet-300-100 and LeNet-5 (as src/ml/architectures.ts builds them), Adam 1e-3,
# softmax cross-entropy, fp32 (TF32 off), on the GPU, 60,000 MNIST-shaped rows resident on the device, batches in
# order; one warm-up epoch, then the best of 2 timed epochs. No host read inside the loop (as the GPU program).
# Prints its device to stderr and one JSON line {"<model>@<batch>": samples/s, ...}.
#   python3 bench/gpu/torch_gpu.py 128,512
import json, sys, time
import torch
import torch.nn as nn

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = 'cuda'
print('torch', torch.__version__, torch.cuda.get_device_name(0), file=sys.stderr, flush=True)
batches = [int(b) for b in (sys.argv[1] if len(sys.argv) > 1 else '128,512').split(',')]
n = 60000

def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))

def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))

def run(make, bs):
    torch.manual_seed(0)
    m = make().to(dev)
    opt = torch.optim.Adam(m.parameters(), 1e-3)
    lossf = nn.CrossEntropyLoss()
    x = torch.rand(n, 1, 28, 28, device=dev)
    y = torch.randint(0, 10, (n,), device=dev)
    def epoch():
        torch.cuda.synchronize()
        t = time.perf_counter()
        for i in range(0, n, bs):
            opt.zero_grad()
            lossf(m(x[i:i + bs]), y[i:i + bs]).backward()
            opt.step()
        torch.cuda.synchronize()
        return n / (time.perf_counter() - t)
    epoch()
    return max(epoch(), epoch())

out = {}
for name, make in (('lenet-300-100', mlp), ('lenet-5', lenet5)):
    for bs in batches:
        out[f'{name}@{bs}'] = round(run(make, bs))
print(json.dumps(out), flush=True)
