#include "tandem/model/rnn_stack.h"

#include <torch/torch.h>

#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "model/fused_cells.h"
#include "tandem/model/int8.h"

namespace tandem::model {
namespace {

namespace rnn_utils = torch::nn::utils::rnn;

// How each LibTorch module takes and gives its state.
torch::Tensor to_hx(const torch::nn::RNN&, const RecurrentState& s) { return s.h; }
torch::Tensor to_hx(const torch::nn::GRU&, const RecurrentState& s) { return s.h; }
torch::optional<std::tuple<torch::Tensor, torch::Tensor>> to_hx(const torch::nn::LSTM&, const RecurrentState& s) {
  if (!s.defined()) return torch::nullopt;
  return std::make_tuple(s.h, s.c);
}
RecurrentState from_hx(const torch::Tensor& h) { return {h, {}}; }
RecurrentState from_hx(const std::tuple<torch::Tensor, torch::Tensor>& hc) { return {std::get<0>(hc), std::get<1>(hc)}; }

// One direction of one layer over a padded batch-major sequence, through
// LibTorch's unpacked path, which on the CPU multiplies the input projection of
// all time steps at once. @return outputs [B, T, H]
torch::Tensor run_direction(const torch::nn::RNN&, const torch::Tensor& x, const torch::Tensor& h0,
                            const std::vector<torch::Tensor>& w) {
  return std::get<0>(torch::rnn_tanh(x, h0, w, true, 1, 0.0, false, false, /*batch_first=*/true));
}
torch::Tensor run_direction(const torch::nn::GRU&, const torch::Tensor& x, const torch::Tensor& h0,
                            const std::vector<torch::Tensor>& w) {
  return std::get<0>(torch::gru(x, h0, w, true, 1, 0.0, false, false, /*batch_first=*/true));
}
torch::Tensor run_direction(const torch::nn::LSTM&, const torch::Tensor& x, const torch::Tensor& h0,
                            const std::vector<torch::Tensor>& w) {
  return std::get<0>(torch::lstm(x, {h0, torch::zeros_like(h0)}, w, true, 1, 0.0, false, false, /*batch_first=*/true));
}

// One step of a cell from its input gates `gi` and recurrent gates `gh` [B, G]
// (products and biases), as LibTorch's cells compute it: every cell through
// the fused kernels where they apply (model/fused_cells.h). `c` in: the LSTM's
// memory cell, out: the next one.
torch::Tensor cell_step(const torch::nn::RNN&, const torch::Tensor& gi, const torch::Tensor& gh,
                        const torch::Tensor& h, torch::Tensor*) {
  if (fused::applies(gi, gh, h)) return fused::rnn(gi, gh);
  return torch::tanh(gi + gh);
}
torch::Tensor cell_step(const torch::nn::GRU&, const torch::Tensor& gi, const torch::Tensor& gh, const torch::Tensor& h,
                        torch::Tensor*) {
  if (fused::applies(gi, gh, h)) return fused::gru(gi, gh, h);
  const auto i = gi.chunk(3, /*dim=*/1);
  const auto g = gh.chunk(3, /*dim=*/1);
  const auto r = torch::sigmoid(i[0] + g[0]);
  const auto z = torch::sigmoid(i[1] + g[1]);
  const auto n = torch::tanh(i[2] + r * g[2]);
  return n + z * (h - n);  // (1 - z) n + z h
}
torch::Tensor cell_step(const torch::nn::LSTM&, const torch::Tensor& gi, const torch::Tensor& gh, const torch::Tensor&,
                        torch::Tensor* c) {
  if (fused::applies(gi, gh, *c)) {
    auto [h, c_next] = fused::lstm(gi, gh, *c);
    *c = c_next;
    return h;
  }
  const auto g = (gi + gh).chunk(4, /*dim=*/1);  // i, f, g, o
  *c = torch::sigmoid(g[1]) * *c + torch::sigmoid(g[0]) * torch::tanh(g[2]);
  return torch::sigmoid(g[3]) * torch::tanh(*c);
}

// One direction of one layer over a padded batch-major sequence from a zero
// state, step by step, for training: the input projection of all steps is one
// product, and the recurrent weight's gradient one product over all steps
// (StepWeight), where LibTorch's op makes one a step. @return outputs [B, T, H]
template <typename Rnn>
torch::Tensor run_direction_steps(const Rnn& rnn, const torch::Tensor& x, const std::vector<torch::Tensor>& w) {
  const int64_t batch = x.size(0);
  const int64_t steps = x.size(1);
  const auto gi = torch::nn::functional::linear(x, w[0], w[2]);  // [B, T, G]
  const StepWeight recurrent(w[1], steps, batch);
  auto h = torch::zeros({batch, w[1].size(1)}, x.options());
  auto c = torch::zeros_like(h);
  const auto gi_steps = gi.unbind(/*dim=*/1);  // not select: its backward writes a full [B, T, G] a step
  std::vector<torch::Tensor> outputs;
  outputs.reserve(static_cast<size_t>(steps));
  for (int64_t t = 0; t < steps; ++t) {
    h = cell_step(rnn, gi_steps[static_cast<size_t>(t)], recurrent.linear(h, t) + w[3], h, &c);
    outputs.push_back(h);
  }
  return torch::stack(outputs, /*dim=*/1);
}

constexpr double kLayerNormEpsilon = 1e-5;

// A product [..., G] normalized over its last dimension, times `gain` [G]: in
// float32 whatever the precision (under bfloat16 autocast the product comes in
// bfloat16, and LibTorch's CPU kernel takes input and gain of one type), as
// autocast keeps softmaxes and losses in float32.
torch::Tensor normalized(const torch::Tensor& product, const torch::Tensor& gain) {
  const c10::impl::ExcludeDispatchKeyGuard no_autocast(
      c10::DispatchKeySet({c10::DispatchKey::AutocastCPU, c10::DispatchKey::AutocastCUDA}));
  return torch::layer_norm(product.to(torch::kFloat32), {product.size(-1)}, gain.to(torch::kFloat32), /*bias=*/{},
                           kLayerNormEpsilon);
}

// A layer's weights of one direction, in LibTorch's order: input, recurrent, input
// bias, recurrent bias.
std::vector<torch::Tensor> layer_weights(const torch::OrderedDict<std::string, torch::Tensor>& params, int64_t layer,
                                         bool reverse) {
  const std::string suffix = "_l" + std::to_string(layer) + (reverse ? "_reverse" : "");
  return {params["weight_ih" + suffix], params["weight_hh" + suffix], params["bias_ih" + suffix],
          params["bias_hh" + suffix]};
}

// [B, T] positions that reverse each row within its length and keep its padding
// in place (the permutation is its own inverse).
torch::Tensor reversal_within_lengths(const torch::Tensor& lengths, int64_t steps) {
  const auto t = torch::arange(steps, lengths.options()).unsqueeze(0);  // [1, T]
  const auto n = lengths.unsqueeze(1);                                    // [B, 1]
  return torch::where(t < n, n - 1 - t, t);                               // [B, T]
}

template <typename Rnn>
class RnnStackOf : public RnnStackImpl {
 public:
  RnnStackOf(Rnn rnn, bool layer_norm, int64_t transitions) : rnn_(register_module("rnn", std::move(rnn))) {
    const auto& o = rnn_->options;
    const int64_t gates = rnn_->named_parameters(/*recurse=*/false)["weight_hh_l0"].size(0);
    const int64_t hidden = o.hidden_size();
    const double bound = 1.0 / std::sqrt(static_cast<double>(hidden));  // LibTorch's initialization of its cells
    for (int64_t layer = 0; layer < o.num_layers(); ++layer) {
      for (int64_t dir = 0; dir < (o.bidirectional() ? 2 : 1); ++dir) {
        const std::string suffix = "_l" + std::to_string(layer) + (dir == 1 ? "_reverse" : "");
        if (layer_norm) {
          input_gains_.push_back(register_parameter("ln_ih" + suffix, torch::ones({gates})));
          recurrent_gains_.push_back(register_parameter("ln_hh" + suffix, torch::ones({gates})));
        }
        std::vector<Transition> chain;
        for (int64_t k = 1; k < transitions; ++k) {
          const std::string name = suffix + "_t" + std::to_string(k);
          Transition t;
          t.weight_hh = register_parameter("transition_weight_hh" + name, torch::empty({gates, hidden}).uniform_(-bound, bound));
          t.bias_ih = register_parameter("transition_bias_ih" + name, torch::empty({gates}).uniform_(-bound, bound));
          t.bias_hh = register_parameter("transition_bias_hh" + name, torch::empty({gates}).uniform_(-bound, bound));
          if (layer_norm) t.gain = register_parameter("transition_ln_hh" + name, torch::ones({gates}));
          chain.push_back(t);
        }
        transitions_.push_back(std::move(chain));
      }
    }
  }

  std::pair<torch::Tensor, RecurrentState> forward(const torch::Tensor& inputs, const torch::Tensor& lengths,
                                                   const RecurrentState& state) override {
    // int8 products (translation): the stepped path, whose products go through model::linear.
    if (normalizing() || transitions_.front().size() > 0 || int8_products()) {
      return forward_stepped(inputs, lengths, state);
    }
    if (!lengths.defined()) {
      auto [outputs, hx] = rnn_->forward(inputs, to_hx(rnn_, state));
      return {outputs, from_hx(hx)};
    }
    if (inputs.device().is_cpu() && !state.defined()) return forward_cpu(inputs, lengths);
    const auto packed = rnn_utils::pack_padded_sequence(inputs, lengths, /*batch_first=*/true,
                                                        /*enforce_sorted=*/false);
    auto [packed_out, hx] = rnn_->forward_with_packed_input(packed, to_hx(rnn_, state));
    auto outputs = std::get<0>(rnn_utils::pad_packed_sequence(packed_out, /*batch_first=*/true,
                                                              /*padding_value=*/0.0, inputs.size(1)));  // [B, T, H x dirs]
    return {outputs, from_hx(hx)};
  }

  ProjectedInputs project_leading(const torch::Tensor& leading) override {
    if (!transitions_.front().empty()) throw std::logic_error("project_leading: a stack with deep transitions");
    const auto params = rnn_->named_parameters(/*recurse=*/false);
    const int64_t batch = leading.size(0);
    const int64_t steps = leading.size(1);
    ProjectedInputs out;
    for (int64_t layer = 0; layer < rnn_->options.num_layers(); ++layer) {
      const auto w = layer_weights(params, layer, /*reverse=*/false);
      if (layer == 0) {
        const int64_t x = leading.size(-1);
        // With layer normalization the bias comes after the whole product is normalized.
        out.gates = torch::nn::functional::linear(leading, w[0].narrow(1, 0, x), normalizing() ? torch::Tensor() : w[2])
                        .unbind(/*dim=*/1);
        out.input.emplace_back(w[0].narrow(1, x, w[0].size(1) - x), steps, batch);
      } else {
        out.input.emplace_back(w[0], steps, batch);
      }
      out.recurrent.emplace_back(w[1], steps, batch);
      out.biases.emplace_back(w[2], w[3]);
    }
    return out;
  }

  std::pair<torch::Tensor, RecurrentState> step_projected(const ProjectedInputs& inputs, int64_t t,
                                                          const torch::Tensor& rest,
                                                          const RecurrentState& state) override {
    std::vector<torch::Tensor> hs;
    std::vector<torch::Tensor> cs;
    torch::Tensor x;
    for (int64_t layer = 0; layer < rnn_->options.num_layers(); ++layer) {
      const auto l = static_cast<size_t>(layer);
      torch::Tensor gi;
      if (layer == 0) {
        gi = inputs.gates[static_cast<size_t>(t)] + inputs.input[0].linear(rest, t);  // [B, G]
      } else {
        x = torch::dropout(x, rnn_->options.dropout(), is_training());
        gi = inputs.input[l].linear(x, t);
      }
      const auto h = state.h[layer];
      torch::Tensor gh = inputs.recurrent[l].linear(h, t);
      if (normalizing()) {
        gi = normalized(gi, input_gains_[l]);
        gh = normalized(gh, recurrent_gains_[l]);
      }
      if (layer > 0 || normalizing()) gi = gi + inputs.biases[l].first;
      torch::Tensor c = state.c.defined() ? state.c[layer] : torch::Tensor();
      x = cell_step(rnn_, gi, gh + inputs.biases[l].second, h, &c);
      hs.push_back(x);
      cs.push_back(c);
    }
    RecurrentState next{torch::stack(hs, /*dim=*/0), state.c.defined() ? torch::stack(cs, /*dim=*/0) : torch::Tensor()};
    return {x, next};
  }

 private:
  bool normalizing() const { return !input_gains_.empty(); }

  // A deep transition after a layer's cell (--enc-cell-depth): a cell that
  // reads only the state (its input products are its input bias alone).
  struct Transition {
    torch::Tensor weight_hh;  // [G, H]
    torch::Tensor bias_ih;    // [G]
    torch::Tensor bias_hh;    // [G]
    torch::Tensor gain;       // [G] with layer normalization, else undefined
  };

  // With layer normalization or deep transitions, every sequence: layer by
  // layer and direction by direction, step by step from `state` (zeros when
  // empty), each step the layer's cell and then its transitions. With `lengths`,
  // the backward direction reads each row reversed within its length, a padded
  // position leaves the state as it was (so the final state is the one at the
  // row's last real position) and its output is zero.
  std::pair<torch::Tensor, RecurrentState> forward_stepped(const torch::Tensor& inputs, const torch::Tensor& lengths,
                                                           const RecurrentState& state) {
    const auto& o = rnn_->options;
    const int64_t batch = inputs.size(0);
    const int64_t steps = inputs.size(1);
    const int64_t dirs = o.bidirectional() ? 2 : 1;
    const auto lengths_here = lengths.defined() ? lengths.to(inputs.device(), torch::kLong)
                                                : torch::full({batch}, steps, torch::dtype(torch::kLong).device(inputs.device()));
    const auto reversal = reversal_within_lengths(lengths_here, steps).unsqueeze(-1);  // [B, T, 1]
    const auto real = (torch::arange(steps, lengths_here.options()).unsqueeze(0) < lengths_here.unsqueeze(1))
                          .unsqueeze(-1);           // [B, T, 1] bool
    const auto real_steps = real.unbind(/*dim=*/1);  // T of [B, 1]
    const bool lstm = std::is_same_v<Rnn, torch::nn::LSTM>;
    const auto params = rnn_->named_parameters(/*recurse=*/false);
    std::vector<torch::Tensor> final_h;
    std::vector<torch::Tensor> final_c;
    torch::Tensor x = inputs;
    for (int64_t layer = 0; layer < o.num_layers(); ++layer) {
      std::vector<torch::Tensor> outputs;
      for (int64_t dir = 0; dir < dirs; ++dir) {
        const auto k = static_cast<size_t>(layer * dirs + dir);
        const auto w = layer_weights(params, layer, /*reverse=*/dir == 1);
        const auto in = dir == 0 ? x : x.gather(1, reversal.expand({batch, steps, x.size(2)}));
        auto input_products = model::linear(in, w[0]);  // [B, T, G], every step at once
        if (normalizing()) input_products = normalized(input_products, input_gains_[k]);
        const auto gi = (input_products + w[2]).unbind(/*dim=*/1);
        auto h = state.defined() ? state.h[static_cast<int64_t>(k)]
                                 : torch::zeros({batch, o.hidden_size()}, inputs.options());
        torch::Tensor c;
        if (lstm) c = state.c.defined() ? state.c[static_cast<int64_t>(k)] : torch::zeros_like(h);
        std::vector<torch::Tensor> out;
        out.reserve(static_cast<size_t>(steps));
        for (int64_t t = 0; t < steps; ++t) {
          const auto& keep = real_steps[static_cast<size_t>(t)];
          torch::Tensor next_c = c;
          auto recurrent_products = model::linear(h, w[1]);
          if (normalizing()) recurrent_products = normalized(recurrent_products, recurrent_gains_[k]);
          auto next_h = cell_step(rnn_, gi[static_cast<size_t>(t)], recurrent_products + w[3], h, &next_c);
          for (const auto& transition : transitions_[k]) {
            auto products = model::linear(next_h, transition.weight_hh);
            if (normalizing()) products = normalized(products, transition.gain);
            next_h = cell_step(rnn_, transition.bias_ih.expand_as(products), products + transition.bias_hh, next_h,
                               &next_c);
          }
          if (lengths.defined()) {
            h = torch::where(keep, next_h, h);  // padding keeps the state
            if (lstm) c = torch::where(keep, next_c, c);
            out.push_back(torch::where(keep, next_h, torch::zeros_like(next_h)));
          } else {
            h = next_h;
            c = next_c;
            out.push_back(next_h);
          }
        }
        final_h.push_back(h);
        if (lstm) final_c.push_back(c);
        const auto stacked = torch::stack(out, /*dim=*/1);  // [B, T, H], reversed for dir 1
        outputs.push_back(dir == 0 ? stacked : stacked.gather(1, reversal.expand({batch, steps, stacked.size(2)})));
      }
      x = dirs == 1 ? outputs.front() : torch::cat(outputs, /*dim=*/-1);  // [B, T, H x dirs]
      if (layer + 1 < o.num_layers()) x = torch::dropout(x, o.dropout(), is_training());
    }
    return {x, RecurrentState{torch::stack(final_h, /*dim=*/0),
                              lstm ? torch::stack(final_c, /*dim=*/0) : torch::Tensor()}};
  }

  // Padded sequences from a zero state on the CPU, layer by layer and direction by
  // direction: each direction's input projection over all time steps is one
  // product (a packed sequence multiplies it step by step, a few rows at a time).
  // The backward direction reads each row reversed within its length, so padding
  // never enters a real position's state; the final states are the outputs at
  // each row's last real position. An LSTM's final memory cell is not returned
  // (c undefined): the encoder, this path's caller, reads only h.
  std::pair<torch::Tensor, RecurrentState> forward_cpu(const torch::Tensor& inputs, const torch::Tensor& lengths) {
    const auto& o = rnn_->options;
    const int64_t batch = inputs.size(0);
    const int64_t steps = inputs.size(1);
    const int64_t dirs = o.bidirectional() ? 2 : 1;
    const auto lengths_here = lengths.to(inputs.device(), torch::kLong);
    const auto reversal = reversal_within_lengths(lengths_here, steps).unsqueeze(-1);  // [B, T, 1]
    const auto last = (lengths_here - 1).view({batch, 1, 1});                         // [B, 1, 1]
    const auto h0 = torch::zeros({1, batch, o.hidden_size()}, inputs.options());
    const auto params = rnn_->named_parameters(/*recurse=*/false);
    std::vector<torch::Tensor> finals;  // [B, H] per layer and direction, LibTorch's order
    torch::Tensor x = inputs;
    for (int64_t layer = 0; layer < o.num_layers(); ++layer) {
      std::vector<torch::Tensor> outputs;
      for (int64_t dir = 0; dir < dirs; ++dir) {
        const auto w = layer_weights(params, layer, /*reverse=*/dir == 1);
        const auto in = dir == 0 ? x : x.gather(1, reversal.expand({batch, steps, x.size(2)}));
        // [B, T, H], reversed for dir 1; training steps itself (one gradient product a weight)
        const auto out =
            StepWeight::defers(w[1], steps) ? run_direction_steps(rnn_, in, w) : run_direction(rnn_, in, h0, w);
        finals.push_back(out.gather(1, last.expand({batch, 1, out.size(2)})).squeeze(1));
        outputs.push_back(dir == 0 ? out : out.gather(1, reversal.expand({batch, steps, out.size(2)})));
      }
      x = dirs == 1 ? outputs.front() : torch::cat(outputs, /*dim=*/-1);  // [B, T, H x dirs]
      if (layer + 1 < o.num_layers()) x = torch::dropout(x, o.dropout(), is_training());
    }
    const auto mask = (torch::arange(steps, lengths_here.options()).unsqueeze(0) < lengths_here.unsqueeze(1));
    return {x * mask.unsqueeze(-1).to(x.scalar_type()), RecurrentState{torch::stack(finals, /*dim=*/0), {}}};
  }

  Rnn rnn_;
  std::vector<torch::Tensor> input_gains_;      // layer-major, direction-minor; empty without layer normalization
  std::vector<torch::Tensor> recurrent_gains_;
  std::vector<std::vector<Transition>> transitions_;  // layer-major, direction-minor; each empty without
};

template <typename Rnn, typename RnnOptions>
std::shared_ptr<RnnStackImpl> build(RnnOptions rnn_options, const RnnStackOptions& o) {
  rnn_options.num_layers(o.layers()).bidirectional(o.bidirectional()).batch_first(true);
  if (o.layers() > 1) rnn_options.dropout(o.dropout());
  return std::make_shared<RnnStackOf<Rnn>>(Rnn(rnn_options), o.layer_norm(), o.transitions());
}

}  // namespace

std::shared_ptr<RnnStackImpl> make_rnn_stack(CellType cell, const RnnStackOptions& o) {
  switch (cell) {
    case CellType::kRnn:
      return build<torch::nn::RNN>(
          torch::nn::RNNOptions(o.input_size(), o.hidden_size()).nonlinearity(torch::kTanh), o);
    case CellType::kGru:
      return build<torch::nn::GRU>(torch::nn::GRUOptions(o.input_size(), o.hidden_size()), o);
    case CellType::kLstm:
      return build<torch::nn::LSTM>(torch::nn::LSTMOptions(o.input_size(), o.hidden_size()), o);
  }
  throw std::logic_error("unknown cell type");
}

}  // namespace tandem::model
