"""Write the JPEG fixtures and the Pillow + torchvision references that modelgate's
preprocessing must reproduce byte for byte.

    python models/make_jpeg_fixtures.py     # Pillow 13.0.0, numpy 2.4.6, scikit-learn 1.9.1

Why this exists: a model's accuracy depends on the exact pixels its preprocessing produces, and
the pipeline most image models were trained and evaluated with is torchvision's
`Resize(256), CenterCrop(224), ToTensor(), Normalize(imagenet)` on images opened with Pillow.
The images are cut from the photographs scikit-learn ships (`load_sample_images`), at mixed
sizes, aspect ratios, qualities and chroma subsamplings, plus a grayscale, a progressive, a
truncated and a corrupt file, in models/testdata/jpeg/. One more, arithmetic.jpg, is exact_224.jpg
transcoded losslessly to arithmetic coding by libjpeg-turbo's `jpegtran -arithmetic` (Debian:
libjpeg-turbo-progs; Pillow cannot write arithmetic coding but decodes it): the same DCT
coefficients, so Pillow decodes it to the same pixels as exact_224.jpg. Without jpegtran the
committed file is kept and its reference recomputed.

torchvision itself is not needed: its transforms on a PIL image are implemented here with
Pillow and numpy, step by step as torchvision does them:
  Resize(256)      the shorter side to 256, the longer to int(256 * long / short)
                   (torchvision's _compute_resized_output_size), Image.resize(..., BILINEAR);
  CenterCrop(224)  offsets int(round((size - 224) / 2)), Python's round half to even;
  ToTensor()       HWC uint8 to CHW float32, divided by 255;
  Normalize        (x - mean) / std in float32.
Full float tensors of every fixture would take megabytes, so references.json keeps SHA-256
digests of the exact bytes (decoded pixels, the cropped uint8 image, the float32 CHW tensor as
little-endian bytes): a digest matches only if every value does. It also keeps each tensor's
per-channel mean, so a mismatch can say how far off it is, and digests of plain Image.resize
output for every filter, down- and upscaling, in RGB and L.
"""

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import PIL
from PIL import Image
from sklearn.datasets import load_sample_images

OUT = Path(__file__).resolve().parent / "testdata" / "jpeg"
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)

# name, source photo index, crop box in the source (left, top, right, bottom), size,
# mode, JPEG save options. subsampling: 0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0.
FIXTURES = [
    ("wide_300x200.jpg", 0, (0, 0, 640, 427), (300, 200), "RGB", dict(quality=90, subsampling=2)),
    ("tall_257x511.jpg", 1, (100, 0, 314, 427), (257, 511), "RGB", dict(quality=90, subsampling=2)),
    ("vga_640x480.jpg", 0, (40, 0, 609, 427), (640, 480), "RGB", dict(quality=50, subsampling=2)),
    ("square_225.jpg", 1, (150, 50, 427, 327), (225, 225), "RGB", dict(quality=90, subsampling=2)),
    ("exact_224.jpg", 0, (200, 100, 424, 324), (224, 224), "RGB", dict(quality=90, subsampling=2)),
    ("gray_320x240.jpg", 0, (0, 0, 640, 480), (320, 240), "L", dict(quality=90)),
    ("chroma444_256x256.jpg", 1, (200, 60, 456, 316), (256, 256), "RGB", dict(quality=75, subsampling=0)),
    ("chroma422_300x300.jpg", 0, (300, 80, 600, 380), (300, 300), "RGB", dict(quality=75, subsampling=1)),
    ("progressive_400x300.jpg", 1, (0, 60, 640, 427), (400, 300), "RGB", dict(quality=85, subsampling=2, progressive=True)),
    ("panorama_700x233.jpg", 0, (0, 100, 640, 313), (700, 233), "RGB", dict(quality=60, subsampling=2)),
    ("odd_199x401.jpg", 1, (250, 0, 460, 427), (199, 401), "RGB", dict(quality=92, subsampling=2)),
    ("photo_448x336.jpg", 1, (0, 0, 569, 427), (448, 336), "RGB", dict(quality=80, subsampling=2)),
]

# Plain Image.resize checks: fixture, then (width, height) targets, one smaller, one larger.
RESIZES = [("wide_300x200.jpg", [(123, 77), (411, 389)]), ("gray_320x240.jpg", [(97, 150), (333, 250)])]
FILTERS = {
    "nearest": Image.NEAREST,
    "bilinear": Image.BILINEAR,
    "bicubic": Image.BICUBIC,
    "lanczos": Image.LANCZOS,
    "box": Image.BOX,
    "hamming": Image.HAMMING,
}


def sha(array):
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def resized_size(w, h, n):
    """torchvision's _compute_resized_output_size for Resize(n)."""
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = n, int(n * long / short)
    return (new_short, new_long) if w <= h else (new_long, new_short)


def torchvision_imagenet(img):
    """Resize(256), CenterCrop(224), ToTensor(), Normalize(imagenet) on a PIL image."""
    size = resized_size(*img.size, 256)
    if size != img.size:
        img = img.resize(size, Image.BILINEAR)
    w, h = img.size
    left, top = int(round((w - 224) / 2.0)), int(round((h - 224) / 2.0))
    crop = np.asarray(img.crop((left, top, left + 224, top + 224)))
    x = crop.astype(np.float32).transpose(2, 0, 1) / np.float32(255)
    x = (x - MEAN[:, None, None]) / STD[:, None, None]
    assert x.dtype == np.float32
    return size, crop, x


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    photos = [Image.fromarray(a) for a in load_sample_images().images]
    images = []
    for name, index, box, size, mode, options in FIXTURES:
        img = photos[index].crop(box).resize(size, Image.LANCZOS).convert(mode)
        img.save(OUT / name, "JPEG", **options)
        with Image.open(OUT / name) as f:
            rgb = f.convert("RGB")
            gray = f.convert("L")
        resized, crop, tensor = torchvision_imagenet(rgb)
        images.append({
            "file": name,
            "size": list(rgb.size),
            "rgb_sha256": sha(np.asarray(rgb)),
            "gray_sha256": sha(np.asarray(gray)),
            "resized": list(resized),
            "crop_sha256": sha(crop),
            "tensor_sha256": sha(tensor.astype("<f4")),
            "tensor_channel_means": [float(m) for m in tensor.astype(np.float64).mean(axis=(1, 2))],
        })
    resizes = []
    for name, sizes in RESIZES:
        with Image.open(OUT / name) as f:
            for mode in ("RGB", "L"):
                img = f.convert(mode)
                for size in sizes:
                    for filter_name, resample in FILTERS.items():
                        out = np.asarray(img.resize(size, resample))
                        resizes.append({"file": name, "mode": mode, "interpolation": filter_name,
                                        "size": list(size), "sha256": sha(out)})
    # A file cut short, as an interrupted copy leaves it, and one whose header is not a JPEG's.
    whole = (OUT / "square_225.jpg").read_bytes()
    (OUT / "truncated.jpg").write_bytes(whole[: len(whole) * 3 // 5])
    # A CMYK JPEG (as print workflows write them), which modelgate refuses with the fix.
    Image.new("CMYK", (16, 16), (10, 200, 30, 40)).save(OUT / "cmyk.jpg", "JPEG", quality=90)
    (OUT / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4 + b"\xff\xd9")
    arithmetic = OUT / "arithmetic.jpg"
    if shutil.which("jpegtran"):
        subprocess.run(["jpegtran", "-arithmetic", "-copy", "none", "-outfile", str(arithmetic),
                        str(OUT / "exact_224.jpg")], check=True)
    with Image.open(arithmetic) as f:
        assert f.info.get("arithmetic") or arithmetic.read_bytes().find(b"\xff\xc9") > 0
        arithmetic_rgb = sha(np.asarray(f.convert("RGB")))
    references = {
        "made_with": f"Pillow {PIL.__version__}, numpy {np.__version__}",
        "images": images,
        "resizes": resizes,
        "arithmetic": {"file": arithmetic.name, "transcoded_from": "exact_224.jpg",
                       "rgb_sha256": arithmetic_rgb},
    }
    (OUT / "references.json").write_text(json.dumps(references, indent=1) + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(images)} JPEGs, {len(resizes)} resize references, {total} bytes in {OUT.name}/")


if __name__ == "__main__":
    main()
