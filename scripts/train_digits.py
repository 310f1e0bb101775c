#!/usr/bin/python3
"""Train the small digits classifier shipped in models/digits/.

It is the accuracy reference for `inferd quantize`, `inferd compress` and
`inferd evaluate`: a real classifier on real data, small enough to commit.

Data: the 1797 handwritten 8x8 digits (UCI) that ship with scikit-learn
(Debian's python3-sklearn; no download). Split 80/20 with a fixed seed,
stratified by class. Pixels are scaled from 0..16 to 0..1.

Model: a small convnet, Conv(1->16,3x3) ReLU Conv(16->32,3x3) ReLU MaxPool(2)
Flatten Gemm(512->64) ReLU Gemm(64->10), trained with Adam, fixed seeds,
one thread (so a rerun on the same machine reproduces the weights).

Writes, under models/digits/:
  1/model.onnx                    opset 17, input "input" [N,1,8,8] float32,
                                  output "logits" [N,10] (Triton layout)
  test/all/input.npy              the held-out test set as one batch,
                                  [360,1,8,8] float32 (`inferd evaluate
                                  --data models/digits/test`)
  test/labels.npy                 its labels, [360] int64 (`--labels`)
  calibration/NNN/input.npy       64 training images, one per folder, the
                                  layout `inferd quantize --calibration` reads
  info.json                       sizes and the test accuracy PyTorch measured

Run with Debian's python (it has torch, onnx and sklearn):
  apt-get install -y python3-sklearn python3-torch python3-onnx
  /usr/bin/python3 scripts/train_digits.py
"""

import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 20240601
EPOCHS = 40
CALIBRATION = 64


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(32 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        x = self.pool(x)
        x = torch.flatten(x, 1)
        x = torch.relu(self.fc1(x))
        return self.fc2(x)


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "digits")
    root = os.path.normpath(root)
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    rng = np.random.default_rng(SEED)

    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[:, None, :, :]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, random_state=SEED % (2**32), stratify=y)

    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    for epoch in range(EPOCHS):
        model.train()
        perm = torch.from_numpy(rng.permutation(len(xt)))
        for i in range(0, len(xt), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(x_test)).argmax(1).numpy()
    acc = float((pred == y_test).mean())
    print(f"test accuracy {acc * 100:.2f}% on {len(y_test)} images", file=sys.stderr)

    os.makedirs(os.path.join(root, "1"), exist_ok=True)
    path = os.path.join(root, "1", "model.onnx")
    torch.onnx.export(model, torch.from_numpy(x_test[:1]), path, opset_version=17,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})

    os.makedirs(os.path.join(root, "test", "all"), exist_ok=True)
    np.save(os.path.join(root, "test", "all", "input.npy"), np.ascontiguousarray(x_test))
    np.save(os.path.join(root, "test", "labels.npy"), y_test)
    pick = rng.choice(len(x_train), CALIBRATION, replace=False)
    for k, i in enumerate(sorted(pick)):
        d = os.path.join(root, "calibration", f"{k:03d}")
        os.makedirs(d, exist_ok=True)
        np.save(os.path.join(d, "input.npy"), np.ascontiguousarray(x_train[i:i + 1]))

    info = {"dataset": "sklearn.datasets.load_digits (8x8, 10 classes)",
            "train": int(len(y_train)), "test": int(len(y_test)),
            "calibration": CALIBRATION, "seed": SEED, "epochs": EPOCHS,
            "torch_test_accuracy": round(acc, 6),
            "params": int(sum(p.numel() for p in model.parameters()))}
    with open(os.path.join(root, "info.json"), "w") as f:
        json.dump(info, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
