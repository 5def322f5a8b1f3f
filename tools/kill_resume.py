#!/usr/bin/env python3
"""Kills a small training run with SIGKILL at random moments and resumes it, again and again.

    python3 tools/kill_resume.py --kills 20            # by hand (a few minutes)
    python3 tools/kill_resume.py --kills 3 --quick     # the short form CI runs

First trains the run once without interruption (the reference). Then runs the same
command in a second folder, killing it (SIGKILL) after a random delay, checking that the
checkpoint left behind loads (tandem-checkpoint), and starting the command again, until
--kills kills have landed; the last start runs to the end. Passes when
  - every start either was killed or finished with exit code 0 (every resume succeeded),
  - model.ckpt loads after every kill (never half-written),
  - every logged update (loss, perplexity, learning rate, sentences, tokens) and every
    validation equals the reference's, each time it was logged, and no update is missing,
  - the final model.ckpt and model.best-*.ckpt hold bit-identical weights (digests).
CPU, one thread, fixed seed. The data is the dates corpus (recipes/dates/generate.py).
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMPARED = ("epoch", "update", "sentences", "target_tokens", "loss", "perplexity", "learn_rate",
            "cross-entropy", "stalled")


def fail(message):
    print("kill_resume: FAILED: " + message, file=sys.stderr)
    sys.exit(1)


def run(command, **kwargs):
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)
    if result.returncode != 0:
        fail("%s exited with %d:\n%s" % (" ".join(command), result.returncode, result.stdout))
    return result.stdout


def records(model_dir):
    """(type, update) -> list of compared fields, once per time the record was logged."""
    table = {}
    broken = 0
    with open(os.path.join(model_dir, "train.log.jsonl")) as log:
        for line in log:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                broken += 1  # a line cut short by SIGKILL; the resumed run logs that update again
                continue
            key = (record["type"], int(record["update"]))
            table.setdefault(key, []).append({k: record[k] for k in COMPARED if k in record})
    return table, broken


def digests(bin_dir, model_dir):
    result = {}
    for name in sorted(os.listdir(model_dir)):
        if name.endswith(".ckpt"):
            out = run([os.path.join(bin_dir, "tandem-checkpoint"), os.path.join(model_dir, name)])
            result[name] = out.split("weights digest ")[1].split()[0]
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs to land before the run may finish")
    parser.add_argument("--bin-dir", default=os.path.join(ROOT, "build", "bin"))
    parser.add_argument("--work", help="folder to work in (default: a temporary one, removed)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the kill delays")
    parser.add_argument("--quick", action="store_true", help="a shorter run (for CI)")
    args = parser.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="tandem-kill-resume-")
    os.makedirs(work, exist_ok=True)
    rng = random.Random(args.seed)
    updates = 60 + 25 * args.kills if args.quick else 100 + 40 * args.kills

    data = os.path.join(work, "data")
    run([sys.executable, os.path.join(ROOT, "recipes", "dates", "generate.py"), "--out", data,
         "--seed", "7", "--train", "3000", "--valid", "100", "--test", "10"])
    vocab = os.path.join(work, "vocab.spm")
    run([os.path.join(args.bin_dir, "tandem-vocab"), "-i", data + "/train.src", data + "/train.tgt",
         "-o", vocab, "--vocab-size", "200", "--cpu-threads", "1"])

    def command(model_dir, limit=updates):
        return [os.path.join(args.bin_dir, "tandem-train"), "--model", model_dir,
                "--train-sets", data + "/train.src", data + "/train.tgt",
                "--valid-sets", data + "/valid.src", data + "/valid.tgt", "--vocabs", vocab,
                "--cell", "lstm", "--attention", "luong-general", "--dim-emb", "32", "--dim-rnn", "64",
                "--mini-batch", "32", "--learn-rate", "0.003", "--lr-schedule", "plateau",
                "--valid-metrics", "cross-entropy", "--valid-freq", "10", "--disp-freq", "1",
                "--early-stopping", "0", "--after-updates", str(limit), "--cpu-threads", "1", "--seed", "5"]

    def timed(model_dir, limit=updates):
        shutil.rmtree(model_dir, ignore_errors=True)
        started = time.time()
        run(command(model_dir, limit))
        return time.time() - started

    startup = timed(os.path.join(work, "startup"), 1)  # loading, one update, one checkpoint
    reference = os.path.join(work, "reference")
    reference_seconds = timed(reference)
    print("reference: %d updates in %.1f s (start-up %.1f s)" % (updates, reference_seconds, startup))

    killed = os.path.join(work, "killed")
    shutil.rmtree(killed, ignore_errors=True)
    kills = starts = 0
    # Delays spread over start-up, training, validation and checkpoint writing;
    # on average a start trains about half of 1/kills of the run before its kill.
    longest = startup + (reference_seconds - startup) / args.kills
    while True:
        starts += 1
        process = subprocess.Popen(command(killed), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if kills < args.kills:
            delay = rng.uniform(0.3, longest)
            try:
                process.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
                kills += 1
                state = "no checkpoint yet"
                last = os.path.join(killed, "model.ckpt")
                if os.path.exists(last):
                    state = run([os.path.join(args.bin_dir, "tandem-checkpoint"), last]).splitlines()[1].strip()
                print("kill %2d after %.2f s: %s" % (kills, delay, state))
                continue
        error = process.communicate()[1]
        if process.returncode != 0:
            fail("start %d exited with %d:\n%s" % (starts, process.returncode, error))
        break
    if kills < args.kills:
        fail("the run finished after %d kills; it needs to last longer for %d" % (kills, args.kills))

    expected, _ = records(reference)
    got, broken = records(killed)
    for key, values in sorted(expected.items()):
        if key not in got:
            fail("%s at update %d is missing from the killed run's log" % key)
        for value in got[key]:
            if value != values[0]:
                fail("%s at update %d differs: %s, never killed: %s" % (key[0], key[1], value, values[0]))
    extra = set(got) - set(expected)
    if extra:
        fail("the killed run logged records the reference did not: %s" % sorted(extra)[:5])
    relogged = sum(len(v) - 1 for v in got.values())
    want, have = digests(args.bin_dir, reference), digests(args.bin_dir, killed)
    if want != have:
        fail("final checkpoints differ: never killed %s, killed %s" % (want, have))
    print("passed: %d kills, %d starts; %d updates logged again after resuming, %d log lines cut by a kill, all "
          "equal to the run never killed; checkpoints identical: %s" %
          (kills, starts, relogged, broken, ", ".join("%s %s" % kv for kv in sorted(have.items()))))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
