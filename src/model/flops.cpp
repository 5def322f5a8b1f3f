#include "tandem/model/flops.h"

#include "tandem/error.h"

namespace tandem::model {
namespace {

double gates(CellType cell) {
  switch (cell) {
    case CellType::kRnn: return 1;
    case CellType::kGru: return 3;
    case CellType::kLstm: return 4;
  }
  return 0;
}

}  // namespace

FlopCount count_flops(const ModelOptions& o, double source_length, double target_length) {
  if (source_length <= 0 || target_length <= 0) throw Error("sentence lengths for a FLOP count must be above 0");
  const double E = static_cast<double>(o.dim_emb());
  const double H = static_cast<double>(o.dim_rnn());
  const double M = static_cast<double>(o.memory_size());
  const double V = static_cast<double>(o.target_vocab());
  const double G = gates(o.cell());
  const double directions = o.bidirectional() ? 2 : 1;
  const double S = source_length;
  const double per_source = S / target_length;  // source tokens per target token

  double encoder_token = 0;  // multiply-adds per source token
  for (int64_t layer = 0; layer < o.enc_depth(); ++layer) {
    const double input = layer == 0 ? E : H * directions;
    encoder_token += directions * G * H * (input + H);
  }
  const AttentionType type = o.attention();
  const bool has_keys = type == AttentionType::kBahdanau || type == AttentionType::kLuongGeneral;
  double encoder = per_source * (encoder_token + (has_keys ? M * H : 0));
  if (o.decoder_init() == DecoderInit::kBridge) encoder += M * static_cast<double>(o.dec_depth()) * H / target_length;
  if (o.is_language_model()) encoder = 0;  // the decoder stack alone

  double rnn_input = E;
  double features_input = H + E;
  double attention = 0;
  switch (type) {
    case AttentionType::kBahdanau:
      rnn_input = E + M;
      features_input = H + M + E;
      attention = H * H + S * H + S * M;
      break;
    case AttentionType::kLuongDot:
    case AttentionType::kLuongGeneral:
      rnn_input = 2 * E;
      features_input = M + H;
      attention = S * (type == AttentionType::kLuongGeneral ? H : M) + S * M;  // scores (keys H or M wide), context
      break;
    case AttentionType::kNone:
      break;
  }
  double decoder = 0;
  for (int64_t layer = 0; layer < o.dec_depth(); ++layer) {
    decoder += G * H * ((layer == 0 ? rnn_input : H) + H);
  }
  FlopCount count;
  count.encoder = 2 * encoder;
  count.attention = 2 * attention;
  count.decoder = 2 * decoder;
  count.features = o.deep_output() ? 2 * features_input * E : 0.0;
  count.output = 2 * E * V;
  return count;
}

}  // namespace tandem::model
