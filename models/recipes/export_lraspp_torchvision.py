#!/usr/bin/env python3
"""Export a torchvision LR-ASPP MobileNetV3 to edgesight's segmenter I/O contract (optional, off-device).

UNTESTED RECIPE: written without torchvision weights at hand (the build machine has no internet access
beyond package registries), so it has not been run end to end. Read it before trusting it; the final
`edgesight models import` step checks the exported graph's names and shapes in ONNX Runtime either way.

The contract (the same as the shipped lraspp_mobilenet_v3_small_voc):
  input  `image`  float32 (N, 3, H, W), RGB, x = pixel / 127.5 - 1, H and W multiples of 16 (dynamic)
  output `logits` float32 (N, C, H/8, W/8): class scores at 1/8, NO upsampling inside the graph
          (edgesight takes the argmax at 1/8; upsampling in the graph costs more than the network)

torchvision's segmentation models expect ImageNet mean/std normalisation of pixel/255, so the exported graph
starts with a fixed per-channel affine that maps the contract's [-1, 1] input to that normalisation. It is
exact (a Mul and an Add in the graph), unlike folding it into the first conv, which would be wrong at the
zero-padded border.

Usage (on a PC with Python, torch, torchvision, onnx and onnxruntime installed):
  # torchvision's pretrained LR-ASPP MobileNetV3-Large (COCO subset with the 20 VOC classes + background):
  python3 export_lraspp_torchvision.py --out lraspp_mobilenet_v3_large_voc.onnx
  # your own checkpoint (a state_dict of torchvision's LRASPP with --num-classes outputs):
  python3 export_lraspp_torchvision.py --checkpoint my.pth --num-classes 3 --arch small --out my_seg.onnx

then register it (copy the .onnx to the Pi first, or import on the PC and move it with a bundle):
  edgesight models import lraspp_mobilenet_v3_large_voc.onnx --name lraspp_mobilenet_v3_large_voc \
      --like lraspp_mobilenet_v3_small_voc
  edgesight models import my_seg.onnx --name my_seg --like lraspp_mobilenet_v3_small_voc --labels my_labels.txt
and set `models.segmenter: lraspp_mobilenet_v3_large_voc` in the config.
"""
import argparse
import hashlib
import sys

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def build(args):
    import torch
    from torchvision.models import mobilenet_v3_small
    from torchvision.models.segmentation import lraspp_mobilenet_v3_large

    if args.checkpoint is None:
        if args.arch != "large":
            sys.exit("torchvision ships pretrained LR-ASPP weights only for MobileNetV3-Large; give --checkpoint for --arch small")
        from torchvision.models.segmentation import LRASPP_MobileNet_V3_Large_Weights

        return lraspp_mobilenet_v3_large(weights=LRASPP_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1).eval()

    if args.num_classes is None:
        sys.exit("--checkpoint needs --num-classes")
    if args.arch == "large":
        model = lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=args.num_classes)
    else:
        # torchvision has no public builder for the Small variant; its private helper builds the same head
        # (dilated last stage: high-level features at stride 16, low-level at stride 8)
        from torchvision.models.segmentation.lraspp import _lraspp_mobilenetv3

        model = _lraspp_mobilenetv3(mobilenet_v3_small(weights=None, dilated=True), args.num_classes)
    state = torch.load(args.checkpoint, map_location="cpu")
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # torchvision reference-script checkpoints wrap the state_dict
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        sys.exit(f"checkpoint {args.checkpoint} does not fit LR-ASPP MobileNetV3-{args.arch} with {args.num_classes} classes: {e}")
    return model.eval()


def contract_module(model):
    import torch

    class Contract(torch.nn.Module):
        """[-1, 1] RGB in, logits at 1/8 out (torchvision's LRASPP.forward minus its final upsample)."""

        def __init__(self, inner):
            super().__init__()
            self.backbone = inner.backbone
            self.classifier = inner.classifier
            mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
            std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
            # pixel/255 = (x + 1) / 2  →  (pixel/255 - mean) / std = x * a + b
            self.register_buffer("a", 0.5 / std)
            self.register_buffer("b", (0.5 - mean) / std)

        def forward(self, image):
            features = self.backbone(image * self.a + self.b)
            return self.classifier(features)

    return Contract(model).eval()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output ONNX file")
    p.add_argument("--checkpoint", help="state_dict of a torchvision LRASPP (default: torchvision's pretrained Large)")
    p.add_argument("--num-classes", type=int)
    p.add_argument("--arch", choices=["large", "small"], default="large")
    p.add_argument("--opset", type=int, default=13)
    args = p.parse_args()

    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch

    net = contract_module(build(args))
    probe = torch.rand(1, 3, 240, 320) * 2 - 1
    with torch.no_grad():
        ref = net(probe)
    if tuple(ref.shape[-2:]) != (240 // 8, 320 // 8):
        sys.exit(f"logits at a 320x240 input are {tuple(ref.shape)}, not at 1/8 ({240 // 8}x{320 // 8}): not the edgesight contract")

    torch.onnx.export(
        net,
        probe,
        args.out,
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "N", 2: "H", 3: "W"}, "logits": {0: "N", 2: "h", 3: "w"}},
        opset_version=args.opset,
        do_constant_folding=True,
    )
    onnx.checker.check_model(onnx.load(args.out))

    # the exported graph must compute what torch computes, at the probe size and at another multiple of 16
    sess = ort.InferenceSession(args.out, providers=["CPUExecutionProvider"])
    for h, w in ((240, 320), (320, 320)):
        x = probe if (h, w) == (240, 320) else torch.rand(1, 3, h, w) * 2 - 1
        with torch.no_grad():
            want = net(x).numpy()
        got = sess.run(["logits"], {"image": x.numpy()})[0]
        if got.shape != (1, want.shape[1], h // 8, w // 8):
            sys.exit(f"ONNX logits shape {got.shape} at {w}x{h}, expected {(1, want.shape[1], h // 8, w // 8)}")
        err = float(np.abs(got - want).max())
        agree = float((got.argmax(1) == want.argmax(1)).mean())
        print(f"{w}x{h}: max |onnx - torch| = {err:.2e}, argmax agreement {agree:.4f}")
        if err > 1e-3 * max(1.0, float(np.abs(want).max())):
            sys.exit("ONNX Runtime and torch disagree; not writing a usable model")

    with open(args.out, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    print(f"wrote {args.out} ({ref.shape[1]} classes, sha256 {digest})")
    print(f"next: edgesight models import {args.out} --name NAME --like lraspp_mobilenet_v3_small_voc [--labels FILE]")


if __name__ == "__main__":
    main()
