#include "tandem/model/decoder.h"

#include <torch/torch.h>

#include <optional>
#include <vector>

#include "tandem/error.h"
#include "tandem/model/int8.h"

namespace tandem::model {
namespace {

bool is_luong(AttentionType type) {
  return type == AttentionType::kLuongDot || type == AttentionType::kLuongGeneral;
}

// Width of the vector the features layer reads.
int64_t features_input(const ModelOptions& o) {
  switch (o.attention()) {
    case AttentionType::kBahdanau: return o.dim_rnn() + o.memory_size() + o.dim_emb();  // [s; c; e]
    case AttentionType::kLuongDot:
    case AttentionType::kLuongGeneral: return o.memory_size() + o.dim_rnn();  // [c; s]
    case AttentionType::kNone: return o.dim_rnn() + o.dim_emb();              // [s; e]
  }
  return 0;
}

// Width of the RNN's input (the first transition's, in the conditional decoder).
int64_t rnn_input(const ModelOptions& o) {
  if (o.conditional_decoder()) return o.dim_emb();
  switch (o.attention()) {
    case AttentionType::kBahdanau: return o.dim_emb() + o.memory_size();  // [e; c]
    case AttentionType::kLuongDot:
    case AttentionType::kLuongGeneral: return 2 * o.dim_emb();  // [e; f_{t-1}]
    case AttentionType::kNone: return o.dim_emb();
  }
  return 0;
}

}  // namespace

DecoderState DecoderState::reorder_within_sentences(const torch::Tensor& indices) const {
  DecoderState out;
  out.rnn = rnn.reorder(indices);
  out.memory = memory;
  if (feed.defined()) out.feed = feed.index_select(0, indices);
  return out;
}

DecoderState DecoderState::select_sentences(const torch::Tensor& sentences, const torch::Tensor& indices) const {
  DecoderState out = reorder_within_sentences(indices);
  if (memory.values.defined()) {
    out.memory = {memory.values.index_select(0, sentences), memory.keys.index_select(0, sentences),
                  memory.mask.index_select(0, sentences), {}, {}, {}};
  }
  return out;
}

DecoderImpl::DecoderImpl(const ModelOptions& options, torch::nn::Embedding embeddings)
    : options_(options),
      embeddings_(std::move(embeddings)),
      embedding_dropout_(register_module("embedding_dropout", torch::nn::Dropout(options.dropout_emb()))),
      output_dropout_(register_module("output_dropout", torch::nn::Dropout(options.dropout_out()))),
      rnn_(register_module("rnn", make_rnn_stack(options.cell(), RnnStackOptions(rnn_input(options), options.dim_rnn())
                                                                     .layers(options.dec_depth())
                                                                     .dropout(options.dropout_rnn())
                                                                     .layer_norm(options.layer_norm())))) {
  for (int64_t k = 1; k < options.dec_cell_base_depth(); ++k) {
    transitions_.push_back(register_module(
        "transition" + std::to_string(k),
        make_rnn_stack(options.cell(),
                       RnnStackOptions(options.memory_size(), options.dim_rnn()).layer_norm(options.layer_norm()))));
  }
  if (options.attention() != AttentionType::kNone) {
    attention_ = register_module("attention", Attention(options.attention(), options.memory_size(), options.dim_rnn()));
  }
  if (options.decoder_init() == DecoderInit::kBridge) {
    bridge_ = register_module("bridge",
                              torch::nn::Linear(options.memory_size(), options.dec_depth() * options.dim_rnn()));
  }
  if (options.deep_output()) {
    features_ = register_module("features", torch::nn::Linear(features_input(options), options.dim_emb()));
  }
  if (options.tied_output()) {
    output_weight_ = embeddings_->weight;
  } else {
    output_weight_ = register_parameter(
        "output_weight", torch::empty({options.target_vocab(), options.dim_emb()}).normal_(0.0, 0.02));
  }
  output_bias_ = register_parameter("output_bias", torch::zeros({options.target_vocab()}));
}

DecoderState DecoderImpl::start(const EncoderOutput& encoded) {
  const int64_t batch = encoded.memory.size(0);
  const int64_t layers = options_.dec_depth();
  const int64_t hidden = options_.dim_rnn();
  DecoderState state;
  if (bridge_) {
    state.rnn.h = torch::tanh(model::linear(encoded.final, bridge_))  // [B, L x H]
                      .view({batch, layers, hidden})            // [B, L, H]
                      .transpose(0, 1)                          // [L, B, H]
                      .contiguous();
  } else {
    state.rnn.h = torch::zeros({layers, batch, hidden}, encoded.memory.options());  // [L, B, H]
  }
  if (options_.cell() == CellType::kLstm) state.rnn.c = torch::zeros_like(state.rnn.h);  // [L, B, H]
  if (attention_) state.memory = attention_->prepare(encoded.memory, encoded.mask);
  if (is_luong(options_.attention())) {
    state.feed = torch::zeros({batch, options_.dim_emb()}, encoded.memory.options());  // [B, E]
  }
  return state;
}

torch::Tensor DecoderImpl::embed(const torch::Tensor& previous) {
  const auto words = word_dropout(embeddings_->forward(previous), options_.dropout_trg(), is_training());
  return embedding_dropout_->forward(words);
}

StepOutput DecoderImpl::step(const torch::Tensor& previous, DecoderState& state) {
  return step_from(embed(previous), /*projected=*/nullptr, 0, state);
}

torch::Tensor DecoderImpl::forward_teacher(const torch::Tensor& previous, DecoderState& state) {
  if (!attention_) return forward_sequence(previous, state);
  const auto e = embed(previous);  // [B, T, E]
  const int64_t steps = previous.size(1);
  // e's share of the first layer's products, all steps (not with the conditional
  // decoder: its transitions run one step each, through step_from).
  std::optional<ProjectedInputs> projected;
  if (!options_.conditional_decoder()) {
    projected = rnn_->project_leading(e);
    attention_->prepare_steps(state.memory, steps);
  }
  if (projected && options_.attention() == AttentionType::kBahdanau) {
    // Bahdanau's features do not feed back: the steps run the attention and the
    // RNN, and the feature layer takes all positions in one product after them.
    std::vector<torch::Tensor> states;
    std::vector<torch::Tensor> contexts;
    for (int64_t t = 0; t < steps; ++t) {
      auto [context, weights] = attention_->forward(state.rnn.h[-1], state.memory, t);  // [B, M], [B, S]
      auto [s, next] = rnn_->step_projected(*projected, t, context, state.rnn);         // [B, H]
      state.rnn = next;
      states.push_back(s);
      contexts.push_back(context);
    }
    const auto inputs = torch::cat({torch::stack(states, 1), torch::stack(contexts, 1), e}, /*dim=*/-1);
    return torch::tanh(model::linear(inputs, features_));  // [B, T, E], as step_from's [s; context; e]
  }
  std::vector<torch::Tensor> features;
  features.reserve(static_cast<size_t>(steps));
  // unbind, not select: select's backward writes a full-size [B, T, E] gradient per step
  const auto e_steps = e.unbind(/*dim=*/1);
  for (int64_t t = 0; t < steps; ++t) {
    const auto& e_t = e_steps[static_cast<size_t>(t)];
    features.push_back(step_from(e_t, projected ? &*projected : nullptr, projected ? t : 0, state).features);  // [B, E]
  }
  return torch::stack(features, /*dim=*/1);  // [B, T, E]
}

StepOutput DecoderImpl::step_from(const torch::Tensor& e, const ProjectedInputs* projected, int64_t t,
                                   DecoderState& state) {
  StepOutput out;
  // The RNN's input is [e; rest] (rest undefined: e alone); with `projected`,
  // e's share of the first layer's products is already in it.
  const auto run_rnn = [&](const torch::Tensor& rest) {  // -> s_t [B, H]
    if (projected != nullptr) {
      auto [s, next] = rnn_->step_projected(*projected, t, rest, state.rnn);
      state.rnn = next;
      return s;
    }
    const auto input = rest.defined() ? torch::cat({e, rest}, /*dim=*/-1) : e;                // [B, I]
    auto [outputs, next] = rnn_->forward(input.unsqueeze(1), /*lengths=*/{}, state.rnn);  // [B, 1, H]
    state.rnn = next;
    return outputs.squeeze(1);
  };
  const int64_t attention_step = projected != nullptr ? t : -1;  // teacher forcing: the memory's step products
  if (options_.conditional_decoder()) {
    auto s = run_rnn({});                                                               // [B, H]
    auto [context, weights] = attention_->forward(s, state.memory, attention_step);    // [B, M], [B, S]
    const auto c = context.unsqueeze(1);                                                // [B, 1, M]
    for (const auto& transition : transitions_) {
      auto [outputs, next] = transition->forward(c, /*lengths=*/{}, state.rnn);
      state.rnn = next;
      s = outputs.squeeze(1);
    }
    out.features = torch::tanh(model::linear(torch::cat({s, context, e}, /*dim=*/-1), features_));  // [B, E]
    out.attention = weights;
    return out;
  }
  switch (options_.attention()) {
    case AttentionType::kBahdanau: {
      auto [context, weights] = attention_->forward(state.rnn.h[-1], state.memory, attention_step);  // [B, M], [B, S]
      const auto s = run_rnn(context);                                                                // [B, H]
      out.features = torch::tanh(model::linear(torch::cat({s, context, e}, /*dim=*/-1), features_));  // [B, E]
      out.attention = weights;
      break;
    }
    case AttentionType::kLuongDot:
    case AttentionType::kLuongGeneral: {
      const auto s = run_rnn(state.feed);                                 // [B, H]
      auto [context, weights] = attention_->forward(s, state.memory, attention_step);  // [B, M], [B, S]
      out.features = torch::tanh(model::linear(torch::cat({context, s}, /*dim=*/-1), features_));  // [B, E]
      out.attention = weights;
      state.feed = out.features;
      break;
    }
    case AttentionType::kNone: {
      const auto s = run_rnn({});  // [B, H]
      out.features = features_ ? torch::tanh(model::linear(torch::cat({s, e}, /*dim=*/-1), features_)) : s;  // [B, E]
      break;
    }
  }
  return out;
}

torch::Tensor DecoderImpl::forward_sequence(const torch::Tensor& previous, DecoderState& state) {
  if (attention_) throw Error("forward_sequence: a decoder with attention runs step by step");
  const auto e = embed(previous);      // [B, T, E]
  auto [s, next] = rnn_->forward(e, /*lengths=*/{}, state.rnn);                    // [B, T, H]
  state.rnn = next;
  if (!features_) return s;                                                         // [B, T, H = E]
  return torch::tanh(model::linear(torch::cat({s, e}, /*dim=*/-1), features_));           // [B, T, E]
}

torch::Tensor DecoderImpl::logits(const torch::Tensor& features) {
  return model::linear(output_dropout_->forward(features), output_weight_, output_bias_);
}

torch::Tensor DecoderImpl::logits(const torch::Tensor& features, const torch::Tensor& rows) {
  // In int8 the whole output layer (its weights packed once) is cheaper than the
  // shortlisted rows' float32 product with their weights gathered every step.
  if (int8_products()) return logits(features).index_select(-1, rows);  // [..., R]
  return torch::nn::functional::linear(output_dropout_->forward(features), output_weight_.index_select(0, rows),
                                       output_bias_.index_select(0, rows));  // [..., R]
}

}  // namespace tandem::model
