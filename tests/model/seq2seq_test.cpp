#include "tandem/model/seq2seq.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <torch/torch.h>

#include <tuple>

#include "tandem/error.h"
#include "tandem/train/loss.h"
#include "tandem/vocab/special_ids.h"
#include "test_support.h"

namespace tandem::model {
namespace {

constexpr int64_t kVocab = 23;

ModelOptions tiny(CellType cell, AttentionType attention, bool bidirectional, int64_t depth) {
  return ModelOptions(kVocab, kVocab)
      .dim_emb(8)
      .dim_rnn(bidirectional && attention == AttentionType::kLuongDot ? 12 : 12)
      .enc_depth(depth)
      .dec_depth(depth)
      .cell(cell)
      .bidirectional(bidirectional && attention != AttentionType::kLuongDot)
      .attention(attention)
      .dropout_emb(0.0)
      .dropout_rnn(0.0)
      .dropout_out(0.0);
}

// A batch from id rows (no bos/eos), padded as data::make_batch pads.
data::Batch batch_of(const std::vector<std::vector<int64_t>>& sources, const std::vector<std::vector<int64_t>>& targets) {
  const auto rows = static_cast<int64_t>(sources.size());
  size_t s_max = 0;
  size_t t_max = 0;
  for (const auto& s : sources) s_max = std::max(s_max, s.size());
  for (const auto& t : targets) t_max = std::max(t_max, t.size());
  data::Batch b;
  b.source = torch::full({rows, static_cast<int64_t>(s_max) + 1}, vocab::kPadId, torch::kInt64);
  b.source_lengths = torch::empty({rows}, torch::kInt64);
  b.target_input = torch::full({rows, static_cast<int64_t>(t_max) + 1}, vocab::kPadId, torch::kInt64);
  b.target_output = b.target_input.clone();
  for (int64_t r = 0; r < rows; ++r) {
    const auto& s = sources[static_cast<size_t>(r)];
    const auto& t = targets[static_cast<size_t>(r)];
    for (size_t i = 0; i < s.size(); ++i) b.source[r][static_cast<int64_t>(i)] = s[i];
    b.source[r][static_cast<int64_t>(s.size())] = vocab::kEosId;
    b.source_lengths[r] = static_cast<int64_t>(s.size()) + 1;
    b.target_input[r][0] = vocab::kBosId;
    for (size_t i = 0; i < t.size(); ++i) {
      b.target_input[r][static_cast<int64_t>(i) + 1] = t[i];
      b.target_output[r][static_cast<int64_t>(i)] = t[i];
    }
    b.target_output[r][static_cast<int64_t>(t.size())] = vocab::kEosId;
  }
  return b;
}

int64_t count_parameters(Seq2Seq& model) {
  int64_t n = 0;
  for (const auto& p : model->parameters()) n += p.numel();
  return n;
}

// The parameter count written out from the architecture.
int64_t expected_parameters(const ModelOptions& o) {
  const int64_t gates = o.cell() == CellType::kRnn ? 1 : o.cell() == CellType::kGru ? 3 : 4;
  const int64_t E = o.dim_emb();
  const int64_t H = o.dim_rnn();
  const int64_t M = o.memory_size();
  const int64_t dirs = o.bidirectional() ? 2 : 1;
  const auto rnn = [&](int64_t input, int64_t layers, int64_t directions, int64_t cells = 1) {
    int64_t n = 0;
    for (int64_t l = 0; l < layers; ++l) {
      const int64_t in = l == 0 ? input : H * directions;
      n += directions * (gates * H * in + gates * H * H + 2 * gates * H);
      if (o.layer_norm()) n += directions * 2 * gates * H;  // the gains of the input and recurrent products
      // each transition: recurrent weights, two biases, and a gain with layer normalization
      n += directions * (cells - 1) * (gates * H * H + 2 * gates * H + (o.layer_norm() ? gates * H : 0));
    }
    return n;
  };
  int64_t n = (o.is_language_model() ? 0 : o.source_vocab() * E) + (o.shared_embeddings() ? 0 : o.target_vocab() * E);
  if (!o.is_language_model()) n += rnn(E, o.enc_depth(), dirs, o.enc_cell_depth());
  int64_t dec_in = E;
  int64_t features_in = H + E;
  switch (o.attention()) {
    case AttentionType::kBahdanau:
      dec_in = E + M, features_in = H + M + E, n += M * H + H * H + H;
      break;
    case AttentionType::kLuongGeneral:
      dec_in = 2 * E, features_in = M + H, n += M * H;
      break;
    case AttentionType::kLuongDot:
      dec_in = 2 * E, features_in = M + H;
      break;
    case AttentionType::kNone:
      break;
  }
  if (o.conditional_decoder()) {  // a transition on e, then transitions on the context
    n += rnn(E, 1, 1) + (o.dec_cell_base_depth() - 1) * rnn(M, 1, 1);
  } else {
    n += rnn(dec_in, o.dec_depth(), 1);
  }
  if (o.decoder_init() == DecoderInit::kBridge) n += M * o.dec_depth() * H + o.dec_depth() * H;
  n += features_in * E + E;
  n += (o.tied_output() ? 0 : o.target_vocab() * E) + o.target_vocab();
  return n;
}

// cell, attention, bidirectional encoder, depth, layer normalization, decoder transitions
// (--dec-cell-base-depth), encoder cells a step (--enc-cell-depth)
using Config = std::tuple<CellType, AttentionType, bool, int64_t, bool, int64_t, int64_t>;

class Seq2SeqConfigTest : public ::testing::TestWithParam<Config> {
 protected:
  ModelOptions options() const {
    const auto [cell, attention, bidirectional, depth, layer_norm, transitions, encoder_cells] = GetParam();
    auto o = tiny(cell, attention, bidirectional, depth)
                 .layer_norm(layer_norm)
                 .dec_cell_base_depth(transitions)
                 .enc_cell_depth(encoder_cells);
    if (transitions > 1) o.dec_depth(1);  // the conditional decoder deepens one layer
    return o;
  }
};

TEST_P(Seq2SeqConfigTest, ShapesAndParameterCount) {
  torch::manual_seed(1);
  Seq2Seq model(options());
  EXPECT_EQ(count_parameters(model), expected_parameters(options()));
  const auto batch = batch_of({{5, 6, 7}, {8}}, {{9, 10}, {11, 12, 13, 14}});
  const auto logits = model->forward(batch);
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{2, 5, kVocab}));
  const auto encoded = model->encode(batch.source, batch.source_lengths);
  EXPECT_EQ(encoded.memory.sizes(), (std::vector<int64_t>{2, 4, options().memory_size()}));
  EXPECT_EQ(encoded.final.sizes(), (std::vector<int64_t>{2, options().memory_size()}));
}

TEST_P(Seq2SeqConfigTest, PaddingChangesNothing) {
  torch::manual_seed(2);
  Seq2Seq model(options());
  model->eval();
  const std::vector<int64_t> short_src = {5, 6};
  const std::vector<int64_t> short_tgt = {7, 8};
  const auto alone = batch_of({short_src}, {short_tgt});
  const auto padded = batch_of({{9, 10, 11, 12, 13, 14}, short_src}, {{15, 16, 17, 18, 19}, short_tgt});
  const auto enc_alone = model->encode(alone.source, alone.source_lengths);
  const auto enc_padded = model->encode(padded.source, padded.source_lengths);
  EXPECT_TRUE(torch::allclose(enc_alone.memory[0], enc_padded.memory[1].slice(0, 0, 3), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(enc_alone.final[0], enc_padded.final[1], 1e-5, 1e-6));
  EXPECT_EQ(enc_padded.memory[1].slice(0, 3).abs().sum().item<float>(), 0.0f);  // padding rows are zero
  const auto loss_alone = train::cross_entropy(model->forward(alone), alone.target_output, 0.0);
  const auto logits_padded = model->forward(padded);
  const auto loss_row = train::cross_entropy(logits_padded.slice(0, 1, 2), padded.target_output.slice(0, 1, 2), 0.0);
  EXPECT_NEAR(loss_alone.nll.item<float>(), loss_row.nll.item<float>(), 1e-4);
  EXPECT_EQ(loss_alone.tokens, 3);
}

TEST_P(Seq2SeqConfigTest, TeacherForcingEqualsStepByStep) {
  torch::manual_seed(4);
  Seq2Seq model(options());
  model->eval();
  const auto batch = batch_of({{5, 6, 7}, {8, 9, 10, 11}}, {{12, 13, 14, 15}, {16}});
  const auto all_at_once = model->features(batch);  // [B, T, E]
  auto state = model->start(model->encode(batch.source, batch.source_lengths));
  for (int64_t t = 0; t < batch.target_input.size(1); ++t) {
    const auto one = model->step(batch.target_input.select(1, t), state).features;  // [B, E]
    EXPECT_TRUE(torch::allclose(all_at_once.select(1, t), one, 1e-5, 1e-6)) << "position " << t;
  }
}

// Teacher forcing defers the gradients of the weights its steps share (one
// product over all steps, StepWeight); step by step, LibTorch's modules give
// each step's. The gradients must agree.
TEST_P(Seq2SeqConfigTest, TeacherForcingGradientsEqualStepByStep) {
  torch::manual_seed(6);
  Seq2Seq model(options());
  model->eval();  // no dropout, so both passes compute the same function
  const auto batch = batch_of({{5, 6, 7}, {8, 9, 10, 11}}, {{12, 13, 14, 15}, {16}});
  const auto weights = torch::randn({2, batch.target_input.size(1), options().dim_emb()});
  const auto gradients = [&](bool teacher_forcing) {
    model->zero_grad();
    torch::Tensor features;
    if (teacher_forcing) {
      features = model->features(batch);  // [B, T, E]
    } else {
      auto state = model->start(model->encode(batch.source, batch.source_lengths));
      std::vector<torch::Tensor> steps;
      for (int64_t t = 0; t < batch.target_input.size(1); ++t) {
        steps.push_back(model->step(batch.target_input.select(1, t), state).features);
      }
      features = torch::stack(steps, /*dim=*/1);
    }
    (features * weights).sum().backward();
    std::vector<torch::Tensor> out;
    for (const auto& p : model->parameters()) out.push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());
    return out;
  };
  const auto forced = gradients(true);
  const auto stepped = gradients(false);
  const auto names = model->named_parameters().keys();
  for (size_t i = 0; i < forced.size(); ++i) {
    ASSERT_EQ(forced[i].defined(), stepped[i].defined()) << names[i];
    if (!forced[i].defined()) continue;
    EXPECT_TRUE(torch::allclose(forced[i], stepped[i], 1e-4, 1e-5))
        << names[i] << " differs by " << (forced[i] - stepped[i]).abs().max().item<float>();
  }
}

TEST_P(Seq2SeqConfigTest, GradientsReachEveryParameter) {
  torch::manual_seed(3);
  Seq2Seq model(options());
  const auto batch = batch_of({{5, 6, 7}, {8, 9}}, {{10, 11}, {12, 13, 14}});
  train::cross_entropy(model->forward(batch), batch.target_output, 0.1).loss.backward();
  for (const auto& p : model->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<float>(), 0.0f) << p.key();
  }
}

// Training's loss runs the output layer over the real positions only; it must
// equal the loss over all positions with the pads masked, gradients included.
TEST_P(Seq2SeqConfigTest, BatchLossEqualsTheLossOverAllPositions) {
  torch::manual_seed(5);
  Seq2Seq model(options());
  const auto batch = batch_of({{5, 6, 7}, {8, 9}, {10}}, {{11, 12}, {13, 14, 15, 16}, {17}});
  const auto full = train::cross_entropy(model->forward(batch), batch.target_output, 0.1);
  full.loss.backward();
  std::vector<torch::Tensor> full_grads;
  for (const auto& p : model->parameters()) full_grads.push_back(p.grad().clone());
  model->zero_grad();
  const auto real = train::batch_loss(model, batch, 0.1);
  real.loss.backward();
  EXPECT_EQ(real.tokens, 10);
  EXPECT_EQ(real.tokens, full.tokens);
  EXPECT_NEAR(real.loss.item<double>(), full.loss.item<double>(), 1e-5);
  EXPECT_NEAR(real.nll.item<double>(), full.nll.item<double>(), 1e-5);
  const auto params = model->parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(torch::allclose(params[i].grad(), full_grads[i], 1e-5, 1e-6)) << i;
  }
}

TEST_P(Seq2SeqConfigTest, AttentionIsADistributionOverRealPositions) {
  torch::manual_seed(4);
  Seq2Seq model(options());
  model->eval();
  const auto batch = batch_of({{5, 6, 7, 8, 9}, {10}}, {{11}, {12}});
  auto state = model->start(model->encode(batch.source, batch.source_lengths));
  for (int step = 0; step < 3; ++step) {
    const auto out = model->step(torch::full({2}, vocab::kBosId, torch::kInt64), state);
    if (options().attention() == AttentionType::kNone) {
      EXPECT_FALSE(out.attention.defined());  // the plain seq2seq model has no attention to report
      continue;
    }
    EXPECT_TRUE(torch::allclose(out.attention.sum(-1), torch::ones({2}), 1e-5, 1e-6));
    EXPECT_EQ(out.attention[1].slice(0, 2).abs().sum().item<float>(), 0.0f);  // row 1 has 2 real positions
    EXPECT_GT(out.attention[1].slice(0, 0, 2).sum().item<float>(), 0.99f);
  }
}

// Readable test names, e.g. gru_bahdanau_bi_1 (cell, attention, encoder, depth).
std::string config_name(const ::testing::TestParamInfo<Config>& info) {
  const auto& [cell, attention, bidirectional, depth, layer_norm, transitions, encoder_cells] = info.param;
  std::string name = cell_type_name(cell) + "_" + attention_type_name(attention) + (bidirectional ? "_bi_" : "_uni_") +
                     std::to_string(depth) + (layer_norm ? "_ln" : "") +
                     (transitions > 1 ? "_conditional" + std::to_string(transitions) : "") +
                     (encoder_cells > 1 ? "_encoder_cells" + std::to_string(encoder_cells) : "");
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(
    Architectures, Seq2SeqConfigTest,
    ::testing::Values(Config{CellType::kGru, AttentionType::kBahdanau, true, 1, false, 1, 1},
                      Config{CellType::kGru, AttentionType::kBahdanau, false, 2, false, 1, 1},
                      Config{CellType::kLstm, AttentionType::kLuongGeneral, true, 2, false, 1, 1},
                      Config{CellType::kLstm, AttentionType::kLuongDot, false, 1, false, 1, 1},
                      Config{CellType::kRnn, AttentionType::kBahdanau, true, 1, false, 1, 1},
                      Config{CellType::kRnn, AttentionType::kNone, false, 2, false, 1, 1},
                      Config{CellType::kGru, AttentionType::kNone, true, 1, false, 1, 1},
                      Config{CellType::kLstm, AttentionType::kBahdanau, true, 3, false, 1, 1},
                      Config{CellType::kGru, AttentionType::kBahdanau, true, 2, true, 1, 1},
                      Config{CellType::kLstm, AttentionType::kLuongGeneral, true, 1, true, 1, 1},
                      Config{CellType::kLstm, AttentionType::kNone, false, 2, true, 1, 1},
                      Config{CellType::kRnn, AttentionType::kBahdanau, false, 1, true, 1, 1},
                      Config{CellType::kGru, AttentionType::kBahdanau, true, 1, false, 2, 1},
                      Config{CellType::kLstm, AttentionType::kBahdanau, true, 2, true, 3, 1},
                      Config{CellType::kGru, AttentionType::kBahdanau, false, 1, true, 2, 1},
                      Config{CellType::kGru, AttentionType::kBahdanau, true, 2, false, 2, 3},
                      Config{CellType::kLstm, AttentionType::kLuongGeneral, true, 1, true, 1, 2},
                      Config{CellType::kRnn, AttentionType::kNone, false, 1, false, 1, 2}),
    config_name);

TEST(Seq2SeqTest, ALanguageModelIsTheDecoderStackAlone) {
  for (const auto cell : {CellType::kRnn, CellType::kGru, CellType::kLstm}) {
    for (const bool tied : {true, false}) {
      const auto options = ModelOptions(kVocab, kVocab)
                               .type(ModelType::kLanguageModel)
                               .cell(cell)
                               .attention(AttentionType::kNone)
                               .decoder_init(DecoderInit::kZeros)
                               .dim_emb(6)
                               .dim_rnn(10)
                               .dec_depth(2)
                               .tied_output(tied);
      Seq2Seq lm(options);
      EXPECT_EQ(count_parameters(lm), expected_parameters(options)) << cell_type_name(cell);
      for (const auto& p : lm->named_parameters()) {
        EXPECT_EQ(p.key().rfind("decoder.", 0) == 0 || p.key().rfind("target_embeddings.", 0) == 0, true) << p.key();
      }
      const auto batch = batch_of({{}, {}}, {{9, 10}, {11, 12, 13, 14}});
      EXPECT_EQ(lm->forward(batch).sizes(), (std::vector<int64_t>{2, 5, kVocab}));
    }
  }
  const auto lm = ModelOptions(kVocab, kVocab).type(ModelType::kLanguageModel).decoder_init(DecoderInit::kZeros);
  EXPECT_THROW(ModelOptions(lm).attention(AttentionType::kBahdanau).validate(), Error);  // nothing to attend to
  EXPECT_THROW(ModelOptions(lm).attention(AttentionType::kNone).decoder_init(DecoderInit::kBridge).validate(), Error);
  EXPECT_NO_THROW(ModelOptions(lm).attention(AttentionType::kNone).validate());
  const auto back = ModelOptions::from_json(ModelOptions(lm).attention(AttentionType::kNone).to_json(), "lm.ckpt");
  EXPECT_TRUE(back.is_language_model());
}

// Without attention, teacher forcing runs the whole sequence through the
// recurrent stack at once; it must equal the step-by-step decoder of search.
TEST(Seq2SeqTest, WithoutAttentionTheSequenceAtOnceEqualsStepByStep) {
  for (const bool language_model : {true, false}) {
    for (const auto cell : {CellType::kRnn, CellType::kGru, CellType::kLstm}) {
      auto options = ModelOptions(kVocab, kVocab).cell(cell).attention(AttentionType::kNone).dim_emb(6).dim_rnn(10)
                         .dec_depth(2).enc_depth(1);
      if (language_model) options.type(ModelType::kLanguageModel).decoder_init(DecoderInit::kZeros);
      torch::manual_seed(8);
      Seq2Seq model(options);
      model->eval();
      torch::NoGradGuard no_grad;
      const auto batch = batch_of({{5, 6, 7}, {8}}, {{9, 10}, {11, 12, 13, 14}});
      const auto at_once = model->features(batch);  // [B, T, E]
      auto state = model->start(model->encode(batch.source, batch.source_lengths));
      for (int64_t t = 0; t < batch.target_input.size(1); ++t) {
        const auto step = model->step(batch.target_input.select(1, t), state).features;  // [B, E]
        EXPECT_TRUE(torch::allclose(at_once.select(1, t), step, 1e-5, 1e-6)) << cell_type_name(cell) << " t=" << t;
      }
    }
  }
}

TEST(Seq2SeqTest, TyingAndSharingEmbeddings) {
  auto options = tiny(CellType::kGru, AttentionType::kBahdanau, true, 1);
  options.shared_embeddings(true).tied_output(true).decoder_init(DecoderInit::kZeros);
  Seq2Seq shared(options);
  EXPECT_EQ(count_parameters(shared), expected_parameters(options));
  options.shared_embeddings(false).tied_output(false);
  Seq2Seq untied(options);
  EXPECT_EQ(count_parameters(untied), expected_parameters(options));
}

TEST(Seq2SeqTest, OverfitsASmallBatch) {
  torch::manual_seed(5);
  Seq2Seq model(tiny(CellType::kGru, AttentionType::kBahdanau, true, 1).dim_emb(16).dim_rnn(32));
  const auto batch = batch_of({{5, 6, 7, 8}, {9, 10}, {11, 12, 13}, {14}},
                              {{8, 7, 6, 5}, {10, 9}, {13, 12, 11}, {14, 14}});
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(0.02));
  double last = 0;
  for (int step = 0; step < 150; ++step) {
    adam.zero_grad();
    const auto result = train::cross_entropy(model->forward(batch), batch.target_output, 0.0);
    (result.loss / result.tokens).backward();
    adam.step();
    last = (result.nll / result.tokens).item<double>();
  }
  EXPECT_LT(last, 0.02);
}

TEST(Seq2SeqTest, OptionsRoundTripAndValidate) {
  const auto options = tiny(CellType::kLstm, AttentionType::kLuongGeneral, true, 2).tied_output(false);
  EXPECT_EQ(ModelOptions::from_json(options.to_json(), "x"), options);
  // Doubles round-trip exactly, whatever their digits.
  const auto odd = ModelOptions(10, 10).dropout_emb(0.1).dropout_rnn(1.0 / 3.0).dropout_out(0.30000000000000004);
  const auto back = ModelOptions::from_json(odd.to_json(), "x");
  EXPECT_EQ(back.dropout_emb(), 0.1);
  EXPECT_EQ(back.dropout_rnn(), 1.0 / 3.0);
  EXPECT_EQ(back.dropout_out(), 0.30000000000000004);
  EXPECT_THROW(ModelOptions::from_json("{\"dim-emb\": 8}", "broken.ckpt"), Error);
  EXPECT_THROW(ModelOptions::from_json("dim-emb=8\n", "broken.ckpt"), Error);
  EXPECT_THROW(ModelOptions(10, 12).shared_embeddings(true).validate(), Error);
  EXPECT_THROW(ModelOptions(10, 10).attention(AttentionType::kLuongDot).validate(), Error);  // bidirectional
  EXPECT_THROW(ModelOptions(10, 10).dropout_emb(1.0).validate(), Error);
  EXPECT_THROW(parse_cell_type("transformer"), Error);
  // Layer normalization and the conditional decoder round-trip; options written before them read as off.
  const auto deep =
      tiny(CellType::kGru, AttentionType::kBahdanau, true, 1).layer_norm(true).dec_cell_base_depth(4).enc_cell_depth(3);
  EXPECT_EQ(ModelOptions::from_json(deep.to_json(), "x"), deep);
  auto old = nlohmann::json::parse(options.to_json());
  old.erase("layer-normalization");
  old.erase("dec-cell-base-depth");
  old.erase("enc-cell-depth");
  const auto read = ModelOptions::from_json(old.dump(), "old.ckpt");
  EXPECT_FALSE(read.layer_norm());
  EXPECT_EQ(read.dec_cell_base_depth(), 1);
  EXPECT_EQ(read.enc_cell_depth(), 1);
  const auto error_of = [](const ModelOptions& o) {
    try {
      o.validate();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error_of(ModelOptions(10, 10).dec_cell_base_depth(2).attention(AttentionType::kLuongGeneral))
                .find("--dec-cell-base-depth 2 (the conditional decoder) attends between its transitions with "
                      "--attention bahdanau, not luong-general"),
            std::string::npos);
  EXPECT_NE(error_of(ModelOptions(10, 10).dec_cell_base_depth(3).dec_depth(2)).find("takes --dec-depth 1, not 2"),
            std::string::npos);
  EXPECT_NE(error_of(ModelOptions(10, 10).dec_cell_base_depth(0)).find("--dec-cell-base-depth"), std::string::npos);
  EXPECT_EQ(error_of(ModelOptions(10, 10).dec_cell_base_depth(2)), "");
}

}  // namespace
}  // namespace tandem::model
