// ModelOptions: the architecture of a Tandem model, saved with its weights.
//
// Usage:
//   auto options = tandem::model::ModelOptions(/*source_vocab=*/8000, /*target_vocab=*/8000)
//                      .cell(CellType::kLstm).attention(AttentionType::kLuongGeneral);
//   options.validate();                      // throws tandem::Error a user can act on
//   std::string json = options.to_json();    // {"cell": "lstm", "attention": "luong-general", ...}
//   auto same = ModelOptions::from_json(json, "model.ckpt");  // equal, field by field
#pragma once

#include <torch/arg.h>

#include <cstdint>
#include <string>

namespace tandem::model {

/// What the model is: an encoder-decoder that translates (s2s), or the decoder
/// stack alone, a language model over one side (lm; no encoder, no attention).
enum class ModelType { kSeq2Seq, kLanguageModel };

/// Recurrent cell kinds: the plain tanh (Elman) cell, GRU and LSTM.
enum class CellType { kRnn, kGru, kLstm };

/// Attention over the encoder states: Bahdanau (additive, from the previous
/// decoder state), Luong dot and general (multiplicative, from the current
/// state, with input feeding), or none (Sutskever et al. 2014).
enum class AttentionType { kNone, kBahdanau, kLuongDot, kLuongGeneral };

/// How the decoder's first state is made: a learned bridge from the encoder's
/// final state, or zeros.
enum class DecoderInit { kBridge, kZeros };

ModelType parse_model_type(const std::string& name);
std::string model_type_name(ModelType type);
CellType parse_cell_type(const std::string& name);
std::string cell_type_name(CellType cell);
AttentionType parse_attention_type(const std::string& name);
std::string attention_type_name(AttentionType attention);
DecoderInit parse_decoder_init(const std::string& name);
std::string decoder_init_name(DecoderInit init);

struct ModelOptions {
  ModelOptions(int64_t source_vocab, int64_t target_vocab)
      : source_vocab_(source_vocab), target_vocab_(target_vocab) {}

  /// Source vocabulary size (pieces); a language model's equals target_vocab.
  TORCH_ARG(int64_t, source_vocab);
  /// Target vocabulary size (pieces).
  TORCH_ARG(int64_t, target_vocab);
  /// Translation model or language model (--type s2s|lm). Default s2s.
  TORCH_ARG(ModelType, type) = ModelType::kSeq2Seq;
  /// Embedding width (--dim-emb). Default 256.
  TORCH_ARG(int64_t, dim_emb) = 256;
  /// Recurrent state width per direction (--dim-rnn). Default 512.
  TORCH_ARG(int64_t, dim_rnn) = 512;
  /// Encoder layers (--enc-depth). Default 1.
  TORCH_ARG(int64_t, enc_depth) = 1;
  /// Decoder layers (--dec-depth). Default 1.
  TORCH_ARG(int64_t, dec_depth) = 1;
  /// Cell kind of encoder and decoder (--cell). Default GRU.
  TORCH_ARG(CellType, cell) = CellType::kGru;
  /// Bidirectional encoder (--enc-type bidirectional). Default true.
  TORCH_ARG(bool, bidirectional) = true;
  /// Attention kind (--attention). Default Bahdanau.
  TORCH_ARG(AttentionType, attention) = AttentionType::kBahdanau;
  /// Decoder's first state (--dec-init). Default bridge.
  TORCH_ARG(DecoderInit, decoder_init) = DecoderInit::kBridge;
  /// One embedding matrix for source and target (--tied-embeddings-src; needs equal vocabularies). Default false.
  TORCH_ARG(bool, shared_embeddings) = false;
  /// Output layer reuses the target embedding matrix (--tied-embeddings). Default true.
  TORCH_ARG(bool, tied_output) = true;
  /// A feature layer between the decoder's state and the output layer (a "deep
  /// output", decoder.h); false: the output layer reads the top recurrent state
  /// itself, as the language-model benchmarks' models do (needs --attention none
  /// and --dim-rnn equal to --dim-emb) (--deep-output). Default true.
  TORCH_ARG(bool, deep_output) = true;
  /// Layer normalization inside the recurrent cells of the encoder and decoder
  /// (--layer-normalization, Marian's): each step's input product and recurrent
  /// product normalized over their gates, times a learned gain, before the
  /// biases and the nonlinearities. Default false.
  TORCH_ARG(bool, layer_norm) = false;
  /// Transitions of the decoder's conditional cell (--dec-cell-base-depth,
  /// Marian's; Nematus's cGRU): with N >= 2 each step is a transition on the
  /// previous token's embedding, the attention from its state, then N - 1
  /// transitions that read the attention's context; the last one's state is
  /// the step's state (and the next step's start). Needs --attention bahdanau
  /// and --dec-depth 1. 1 = the plain decoder (attention from the previous
  /// state, then the cell on [e; context]). Default 1.
  TORCH_ARG(int64_t, dec_cell_base_depth) = 1;
  /// Cells a step in each encoder layer (--enc-cell-depth, Marian's; Nematus's
  /// deep transition): the layer's cell on its input, then N - 1 transitions on
  /// the state alone, in each direction. Default 1.
  TORCH_ARG(int64_t, enc_cell_depth) = 1;
  /// Dropout on embeddings (--dropout-emb). Default 0.1.
  TORCH_ARG(double, dropout_emb) = 0.1;
  /// Dropout between stacked recurrent layers (--dropout-rnn). Default 0.1.
  TORCH_ARG(double, dropout_rnn) = 0.1;
  /// Dropout before the output layer (--dropout-out). Default 0.1.
  TORCH_ARG(double, dropout_out) = 0.1;
  /// Word dropout on the source (--dropout-src, Marian's): in training, each
  /// source position's whole embedding is zeroed with this probability (the
  /// others scaled by 1 / (1 - p)), as if the word were missing. Default 0.
  TORCH_ARG(double, dropout_src) = 0.0;
  /// Word dropout on the decoder's input tokens (--dropout-trg, Marian's), the
  /// same for the previous target words (and a language model's inputs). Default 0.
  TORCH_ARG(double, dropout_trg) = 0.0;

 public:
  /// True for a language model (--type lm).
  bool is_language_model() const { return type() == ModelType::kLanguageModel; }
  /// --dec-cell-base-depth 2 or more.
  bool conditional_decoder() const { return dec_cell_base_depth() >= 2; }

  /// Width of the encoder states the attention reads: dim_rnn x directions.
  int64_t memory_size() const { return dim_rnn() * (bidirectional() ? 2 : 1); }

  /// Throws tandem::Error naming the option when a value cannot work.
  void validate() const;

  /// A JSON object with one member per field, named as the command-line option;
  /// numbers round-trip exactly.
  std::string to_json() const;

  /// Parses to_json(); `origin` names the file in errors (missing or mistyped fields).
  static ModelOptions from_json(const std::string& json, const std::string& origin);

  bool operator==(const ModelOptions& other) const { return to_json() == other.to_json(); }
};

}  // namespace tandem::model
