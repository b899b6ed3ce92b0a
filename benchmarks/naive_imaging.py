"""A per-pixel reference, written the way the prototype did it, for bench_imaging only.

The platform never imports this. It exists so the benchmark can show, in the
same run, what inpainting_core/imaging.py replaced: a mask converted pixel by pixel
with getpixel/putpixel, and the whole engine crop pasted back over the map
(the prototype's defect: colours shift everywhere in the crop, not only in
the painted region).
"""

from PIL import Image


def canvas_mask_to_l(mask: Image.Image) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """Alpha > 0 becomes 255, pixel by pixel; the painted bounding box on the way."""
    width, height = mask.size
    converted = Image.new("L", (width, height), 0)
    left, top, right, bottom = width, height, 0, 0
    for y in range(height):
        for x in range(width):
            if mask.getpixel((x, y))[3] > 0:
                converted.putpixel((x, y), 255)
                left, top = min(left, x), min(top, y)
                right, bottom = max(right, x + 1), max(bottom, y + 1)
    return converted, (left, top, right, bottom)


def prepare_and_composite(image, mask, target_size, engine, padding=48) -> Image.Image:
    """Mask conversion, padded crop, resize to the engine, paste the whole result back."""
    converted, (left, top, right, bottom) = canvas_mask_to_l(mask)
    box = (
        max(0, left - padding),
        max(0, top - padding),
        min(image.width, right + padding),
        min(image.height, bottom + padding),
    )
    box_size = (box[2] - box[0], box[3] - box[1])
    size = target_size(*box_size)
    crop = image.crop(box).resize(size)
    crop_mask = converted.crop(box).resize(size)
    generated = engine(crop, crop_mask)
    result = image.copy()
    result.paste(generated.resize(box_size), box[:2])
    return result
