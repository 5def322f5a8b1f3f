#include "tandem/model/rnn_stack.h"

#include <torch/torch.h>

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

template <typename Rnn>
class RnnStackOf : public RnnStackImpl {
 public:
  explicit RnnStackOf(Rnn rnn) : rnn_(register_module("rnn", std::move(rnn))) {}

  std::pair<torch::Tensor, RecurrentState> forward(const torch::Tensor& inputs, const torch::Tensor& lengths,
                                                   const RecurrentState& state) override {
    if (!lengths.defined()) {
      auto [outputs, hx] = rnn_->forward(inputs, to_hx(rnn_, state));
      return {outputs, from_hx(hx)};
    }
    const auto packed = rnn_utils::pack_padded_sequence(inputs, lengths, /*batch_first=*/true,
                                                        /*enforce_sorted=*/false);
    auto [packed_out, hx] = rnn_->forward_with_packed_input(packed, to_hx(rnn_, state));
    auto outputs = std::get<0>(rnn_utils::pad_packed_sequence(packed_out, /*batch_first=*/true,
                                                              /*padding_value=*/0.0, inputs.size(1)));  // [B, T, H x dirs]
    return {outputs, from_hx(hx)};
  }

 private:
  Rnn rnn_;
};

template <typename Rnn, typename RnnOptions>
std::shared_ptr<RnnStackImpl> build(RnnOptions rnn_options, const RnnStackOptions& o) {
  rnn_options.num_layers(o.layers()).bidirectional(o.bidirectional()).batch_first(true);
  if (o.layers() > 1) rnn_options.dropout(o.dropout());
  return std::make_shared<RnnStackOf<Rnn>>(Rnn(rnn_options));
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
