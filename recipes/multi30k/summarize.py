#!/usr/bin/env python3
"""One Markdown table row per finished Multi30k run, from the files the recipe wrote.

    python3 recipes/multi30k/summarize.py [WORK]      # default recipes/multi30k/work

Reads WORK/SRC-TGT/CONFIG/{bleu.json, model/train.log.jsonl}: test BLEU and its
signature, the validation step with the best BLEU (its BLEU and perplexity), the
best validation perplexity, updates, epochs and training time.
"""
import glob
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    work = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "work")
    print("| direction | configuration | test BLEU | chrF2 | BLEU -lc | signature | best valid BLEU (update) "
          "| valid perplexity there | best valid perplexity | updates | epochs | training time |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for bleu_path in sorted(glob.glob(os.path.join(work, "*-*", "*", "bleu.json"))):
        run = os.path.dirname(bleu_path)
        direction = os.path.basename(os.path.dirname(run)).replace("-", " -> ")
        with open(bleu_path) as f:
            bleu = json.load(f)
        extra = []
        for name in ("chrf.json", "bleu-lc.json"):  # absent in runs scored before they were added
            path = os.path.join(run, name)
            extra.append("%.1f" % json.load(open(path))["score"] if os.path.exists(path) else "-")
        train, valid = [], []
        json_log = os.path.join(run, "model", "train.log.jsonl")
        for line in open(json_log) if os.path.exists(json_log) else []:  # no log: a run scored elsewhere
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            (valid if record["type"] == "valid" else train).append(record)
        best = max(valid, key=lambda r: r.get("bleu") or 0) if valid else {}
        last = dict(train[-1]) if train else {}
        text_log = os.path.join(run, "model", "train.log")  # "stopped after N updates, S s" is exact
        if os.path.exists(text_log):
            stops = re.findall(r"stopped after (\d+) updates, ([\d.]+)s", open(text_log).read())
            if stops:
                last["update"], last["seconds"] = int(stops[-1][0]), float(stops[-1][1])
        # An ensemble (or a run scored elsewhere) has no training of its own: "-" there, not zeros.
        perplexities = [r["perplexity"] for r in valid if "perplexity" in r]
        best_cells = ("%.2f (%d)" % (best["bleu"], best["update"]) if "bleu" in best else "-",
                      "%.2f" % best["perplexity"] if "perplexity" in best else "-",
                      "%.2f" % min(perplexities) if perplexities else "-")
        train_cells = ("%d" % last["update"], "%d" % last.get("epoch", 0),
                       "%.0f min" % (last.get("seconds", 0) / 60)) if "update" in last else ("-",) * 3
        print("| " + " | ".join((direction, os.path.basename(run), "%.1f" % bleu["score"], extra[0], extra[1],
                                 bleu["signature"].replace("|", "\\|")) + best_cells + train_cells) + " |")


if __name__ == "__main__":
    main()
