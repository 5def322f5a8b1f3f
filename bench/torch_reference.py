#!/usr/bin/python3
"""Reference peer: the GRU attention encoder-decoder that a PyTorch user would write.

Tandem's copy of ../shared/peers/torch_reference.py with one addition, --device
(cpu, cuda, cuda:N), so that bench/compare.sh --device cuda can run the same model
on a GPU; on the CPU it does exactly what the shared peer does.

It is the baseline that the C++ toolkit is measured against, side by side, on the
same machine, the same LibTorch build (Debian's python3-torch) and the same data.
It reads token ids (one sentence a line, as written by `spm_encode --output_format=id`),
so that no tokenizer runs inside the timed process.

Model (Bahdanau et al. 2015 style, as in the common PyTorch tutorials):
  encoder: embedding E -> bidirectional GRU H (1 layer) -> bridge tanh(W [h_fwd; h_bwd])
  decoder: additive (MLP) attention from the previous state s_{t-1} gives context c_t;
           s_t = GRU([embedding(y_{t-1}); c_t], s_{t-1}); logits = Linear([s_t; c_t; embedding])
           (V outputs), computed once over all time steps in training
Training: teacher forcing, cross entropy over non-pad target tokens, Adam, clip 1.0.

  torch_reference.py train  --src S.ids --tgt T.ids --vocab V [--minutes M | --batches N] [--save ckpt.pt]
  torch_reference.py decode --src S.ids --vocab V --load ckpt.pt --beam K > hyps.ids
  either with --device cuda to run on a GPU

Both print one JSON line of figures on stderr at the end.
"""
import argparse, json, math, random, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F

PAD, UNK, BOS, EOS = 0, 1, 2, 3  # spm_train --pad_id=0 --unk_id=1 --bos_id=2 --eos_id=3


def read_ids(path, max_len):
    out = []
    with open(path) as f:
        for line in f:
            ids = [int(x) for x in line.split()][:max_len]
            out.append(ids)
    return out


class Seq2Seq(nn.Module):
    def __init__(self, vocab, emb=256, hid=512, dropout=0.2):
        super().__init__()
        self.src_emb = nn.Embedding(vocab, emb, padding_idx=PAD)
        self.tgt_emb = nn.Embedding(vocab, emb, padding_idx=PAD)
        self.encoder = nn.GRU(emb, hid, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * hid, hid)
        self.att_key = nn.Linear(2 * hid, hid, bias=False)
        self.att_query = nn.Linear(hid, hid, bias=False)
        self.att_v = nn.Linear(hid, 1, bias=False)
        self.decoder = nn.GRUCell(emb + 2 * hid, hid)
        self.out = nn.Linear(hid + 2 * hid + emb, vocab)
        self.drop = nn.Dropout(dropout)

    def encode(self, src, src_len):
        x = self.drop(self.src_emb(src))
        packed = nn.utils.rnn.pack_padded_sequence(x, src_len.cpu(), batch_first=True, enforce_sorted=False)
        mem, h = self.encoder(packed)
        mem, _ = nn.utils.rnn.pad_packed_sequence(mem, batch_first=True, total_length=src.size(1))
        state = torch.tanh(self.bridge(torch.cat([h[0], h[1]], dim=-1)))
        return mem, self.att_key(mem), state

    def attend(self, keys, mem, mask, state):
        scores = self.att_v(torch.tanh(keys + self.att_query(state).unsqueeze(1))).squeeze(-1)
        scores = scores.masked_fill(~mask, float("-inf"))
        alpha = torch.softmax(scores, dim=-1)
        return torch.bmm(alpha.unsqueeze(1), mem).squeeze(1)

    def step_features(self, y_prev, state, mem, keys, mask):
        e = self.drop(self.tgt_emb(y_prev))
        ctx = self.attend(keys, mem, mask, state)  # attention from the previous decoder state
        state = self.decoder(torch.cat([e, ctx], dim=-1), state)
        return torch.cat([state, ctx, e], dim=-1), state

    def step(self, y_prev, state, mem, keys, mask):
        feats, state = self.step_features(y_prev, state, mem, keys, mask)
        return self.out(self.drop(feats)), state

    def forward(self, src, src_len, tgt_in):
        mem, keys, state = self.encode(src, src_len)
        mask = src != PAD
        feats = []
        for t in range(tgt_in.size(1)):  # teacher forcing: the gold previous token goes in
            f, state = self.step_features(tgt_in[:, t], state, mem, keys, mask)
            feats.append(f)
        # the output layer runs once over all time steps: one large matrix product, not T small ones
        return self.out(self.drop(torch.stack(feats, dim=1)))


def pad(seqs, value=PAD):
    n = max(len(s) for s in seqs)
    return torch.tensor([s + [value] * (n - len(s)) for s in seqs], dtype=torch.long)


def batches(src, tgt, batch_size, rng):
    order = sorted(range(len(src)), key=lambda i: (len(src[i]), rng.random()))
    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(chunks)
    for idx in chunks:
        s = [src[i] + [EOS] for i in idx]
        t = [tgt[i] for i in idx]
        yield pad(s), torch.tensor([len(x) for x in s]), pad([[BOS] + x for x in t]), pad([x + [EOS] for x in t])


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train(a):
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    src, tgt = read_ids(a.src, a.max_len), read_ids(a.tgt, a.max_len)
    dev = torch.device(a.device)
    model = Seq2Seq(a.vocab, a.emb, a.hid).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    model.train()
    tokens = steps = 0
    t_start = time.perf_counter()
    timed_tokens, t_timed = 0, None
    done = False
    epoch = 0
    while not done:
        epoch += 1
        for s, sl, ti, to in batches(src, tgt, a.batch_size, rng):
            s, sl, ti, to = s.to(dev), sl.to(dev), ti.to(dev), to.to(dev)
            logits = model(s, sl, ti)
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), to.reshape(-1), ignore_index=PAD)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            steps += 1
            n = int((to != PAD).sum())
            tokens += n
            if steps == a.warmup:
                sync(dev)
                t_timed = time.perf_counter()
            elif steps > a.warmup:
                timed_tokens += n
            if steps % 50 == 0:
                print(f"step {steps} epoch {epoch} loss {loss.item():.3f}", file=sys.stderr, flush=True)
            elapsed = time.perf_counter() - t_start
            if (a.batches and steps >= a.batches) or (a.minutes and elapsed >= 60 * a.minutes):
                done = True
                break
    sync(dev)
    t_end = time.perf_counter()
    if a.save:
        torch.save(model.state_dict(), a.save)
    timed = (t_end - t_timed) if t_timed else float("nan")
    print(json.dumps({"peer": "torch_reference", "mode": "train", "threads": torch.get_num_threads(),
                      "steps": steps, "epochs": epoch, "target_tokens": tokens,
                      "target_tokens_per_s": timed_tokens / timed if t_timed else None,
                      "last_loss": loss.item()}), file=sys.stderr)


@torch.no_grad()
def beam_search(model, src, src_len, k, max_len):
    """Batched beam search over all sentences of a batch; k == 1 is greedy."""
    mem, keys, state = model.encode(src, src_len)
    dev = src.device
    b = src.size(0)
    mask = src != PAD
    rep = lambda x: x.repeat_interleave(k, dim=0)
    mem, keys, state, mask = rep(mem), rep(keys), rep(state), rep(mask)
    scores = torch.full((b, k), float("-inf"), device=dev); scores[:, 0] = 0.0
    scores = scores.view(-1)
    y = torch.full((b * k,), BOS, dtype=torch.long, device=dev)
    hyps = torch.zeros((b * k, 0), dtype=torch.long, device=dev)
    finished = [[] for _ in range(b)]
    alive = torch.ones(b * k, dtype=torch.bool, device=dev)
    for t in range(max_len):
        logits, state = model.step(y, state, mem, keys, mask)
        logp = F.log_softmax(logits, dim=-1)
        logp[~alive] = float("-inf")
        cand = (scores.unsqueeze(1) + logp).view(b, -1)
        top, idx = cand.topk(k, dim=-1)
        beam = idx // logp.size(-1)
        tok = idx % logp.size(-1)
        base = (torch.arange(b, device=dev) * k).unsqueeze(1)
        sel = (base + beam).view(-1)
        state, hyps = state[sel], torch.cat([hyps[sel], tok.view(-1, 1)], dim=1)
        scores, y = top.view(-1), tok.view(-1)
        alive = torch.ones(b * k, dtype=torch.bool, device=dev)
        for i in range(b):
            for j in range(k):
                r = i * k + j
                if y[r] == EOS and scores[r] > float("-inf"):
                    finished[i].append((scores[r].item() / (t + 1), hyps[r, :-1].tolist()))
                    alive[r] = False
        scores = scores.masked_fill(~alive, float("-inf"))
        if all(len(f) >= k for f in finished):
            break
    out = []
    for i in range(b):
        if not finished[i]:
            r = i * k + int(scores.view(b, k)[i].argmax())
            finished[i].append((0.0, hyps[r].tolist()))
        out.append(max(finished[i], key=lambda x: x[0])[1])
    return out


def decode(a):
    src = read_ids(a.src, a.max_len)
    dev = torch.device(a.device)
    model = Seq2Seq(a.vocab, a.emb, a.hid).to(dev)
    model.load_state_dict(torch.load(a.load, map_location=dev))
    model.eval()
    order = sorted(range(len(src)), key=lambda i: len(src[i]))
    results = [None] * len(src)
    t0 = time.perf_counter()
    out_tokens = 0
    for i in range(0, len(order), a.batch_size):
        idx = order[i:i + a.batch_size]
        s = [src[j] + [EOS] for j in idx]
        max_len = int(a.len_ratio * max(len(x) for x in s) + 10)
        hyps = beam_search(model, pad(s).to(dev), torch.tensor([len(x) for x in s]).to(dev), a.beam, max_len)
        for j, h in zip(idx, hyps):
            results[j] = h
            out_tokens += len(h) + 1
    sync(dev)
    dt = time.perf_counter() - t0
    for h in results:
        print(" ".join(map(str, h)))
    print(json.dumps({"peer": "torch_reference", "mode": "decode", "beam": a.beam, "threads": torch.get_num_threads(),
                      "sentences": len(src), "seconds": dt, "sentences_per_s": len(src) / dt,
                      "target_tokens_per_s": out_tokens / dt}), file=sys.stderr)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["train", "decode"])
    p.add_argument("--src", required=True)
    p.add_argument("--tgt")
    p.add_argument("--vocab", type=int, required=True, help="vocabulary size (shared source/target)")
    p.add_argument("--emb", type=int, default=256)
    p.add_argument("--hid", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-len", type=int, default=100)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--batches", type=int, default=0)
    p.add_argument("--minutes", type=float, default=0)
    p.add_argument("--warmup", type=int, default=5, help="batches left out of the throughput figure")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--save")
    p.add_argument("--load")
    p.add_argument("--beam", type=int, default=5)
    p.add_argument("--len-ratio", type=float, default=1.5)
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    train(a) if a.mode == "train" else decode(a)


if __name__ == "__main__":
    main()
