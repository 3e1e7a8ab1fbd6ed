"""Hand-written SVG of the training loss curve (no matplotlib on the box)."""
import csv
import math


def write_svg(csv_path, svg_path, w=640, h=360):
    steps, losses, dev = [], [], []
    with open(csv_path) as f:
        for row in csv.DictReader(f):
            if row["train_loss"]:
                steps.append(int(row["step"]))
                losses.append(float(row["train_loss"]))
            if row["dev_wer"]:
                dev.append((int(row["step"]), float(row["dev_wer"])))
    if not steps:
        return
    ml, mr, mt, mb = 60, 60, 30, 40
    xmax = max(steps[-1], 1)
    lmax = math.log10(max(losses))
    lmin = math.log10(max(min(losses), 1e-3))
    if lmax - lmin < 1e-6:
        lmax += 1
    fx = lambda s: ml + (w - ml - mr) * s / xmax
    fy = lambda v: mt + (h - mt - mb) * (lmax - math.log10(max(v, 1e-3))) / (lmax - lmin)
    fw = lambda e: mt + (h - mt - mb) * (1 - min(e, 1.0))
    pts = " ".join(f"{fx(s):.1f},{fy(v):.1f}" for s, v in zip(steps, losses))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2}" y="18" text-anchor="middle" font-size="13">quasr demo model: CTC training loss (log scale, blue) and dev WER (red)</text>',
           f'<line x1="{ml}" y1="{h - mb}" x2="{w - mr}" y2="{h - mb}" stroke="black"/>',
           f'<line x1="{ml}" y1="{mt}" x2="{ml}" y2="{h - mb}" stroke="black"/>',
           f'<line x1="{w - mr}" y1="{mt}" x2="{w - mr}" y2="{h - mb}" stroke="black"/>',
           f'<text x="{w / 2}" y="{h - 8}" text-anchor="middle">step (max {xmax})</text>']
    for e in range(math.floor(lmin), math.ceil(lmax) + 1):
        for m in (1, 2, 5):
            v = m * 10 ** e
            if lmin <= math.log10(v) <= lmax:
                y = fy(v)
                out.append(f'<line x1="{ml - 4}" y1="{y:.1f}" x2="{ml}" y2="{y:.1f}" stroke="black"/>')
                out.append(f'<text x="{ml - 6}" y="{y + 4:.1f}" text-anchor="end">{v:g}</text>')
    for e in (0, 0.25, 0.5, 0.75, 1.0):
        y = fw(e)
        out.append(f'<text x="{w - mr + 6}" y="{y + 4:.1f}" fill="red">{int(e * 100)}%</text>')
    out.append(f'<polyline fill="none" stroke="steelblue" stroke-width="1.5" points="{pts}"/>')
    if dev:
        dp = " ".join(f"{fx(s):.1f},{fw(e):.1f}" for s, e in dev)
        out.append(f'<polyline fill="none" stroke="red" stroke-width="1.5" points="{dp}"/>')
        for s, e in dev:
            out.append(f'<circle cx="{fx(s):.1f}" cy="{fw(e):.1f}" r="3" fill="red"/>')
    out.append("</svg>")
    with open(svg_path, "w") as f:
        f.write("\n".join(out) + "\n")
