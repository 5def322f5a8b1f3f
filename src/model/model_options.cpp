#include "tandem/model/model_options.h"

#include <nlohmann/json.hpp>

#include "tandem/error.h"

namespace tandem::model {
namespace {

template <typename Enum>
struct Names {
  Enum value;
  const char* name;
};

constexpr Names<ModelType> kTypes[] = {{ModelType::kSeq2Seq, "s2s"}, {ModelType::kLanguageModel, "lm"}};
constexpr Names<CellType> kCells[] = {{CellType::kRnn, "rnn"}, {CellType::kGru, "gru"}, {CellType::kLstm, "lstm"}};
constexpr Names<AttentionType> kAttentions[] = {{AttentionType::kNone, "none"},
                                                {AttentionType::kBahdanau, "bahdanau"},
                                                {AttentionType::kLuongDot, "luong-dot"},
                                                {AttentionType::kLuongGeneral, "luong-general"}};
constexpr Names<DecoderInit> kInits[] = {{DecoderInit::kBridge, "bridge"}, {DecoderInit::kZeros, "zeros"}};

template <typename Enum, size_t N>
Enum parse_name(const Names<Enum> (&table)[N], const std::string& name, const char* option) {
  std::string choices;
  for (const auto& entry : table) {
    if (name == entry.name) return entry.value;
    choices += std::string(choices.empty() ? "" : ", ") + entry.name;
  }
  throw Error(std::string("unknown ") + option + " '" + name + "'; use " + choices);
}

template <typename Enum, size_t N>
std::string name_of(const Names<Enum> (&table)[N], Enum value) {
  for (const auto& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return "?";
}

}  // namespace

ModelType parse_model_type(const std::string& name) { return parse_name(kTypes, name, "--type"); }
std::string model_type_name(ModelType type) { return name_of(kTypes, type); }
CellType parse_cell_type(const std::string& name) { return parse_name(kCells, name, "--cell"); }
std::string cell_type_name(CellType cell) { return name_of(kCells, cell); }
AttentionType parse_attention_type(const std::string& name) { return parse_name(kAttentions, name, "--attention"); }
std::string attention_type_name(AttentionType attention) { return name_of(kAttentions, attention); }
DecoderInit parse_decoder_init(const std::string& name) { return parse_name(kInits, name, "--dec-init"); }
std::string decoder_init_name(DecoderInit init) { return name_of(kInits, init); }

void ModelOptions::validate() const {
  const auto positive = [](int64_t value, const char* option) {
    if (value <= 0) throw Error(std::string(option) + " must be above 0, got " + std::to_string(value));
  };
  positive(source_vocab(), "the source vocabulary size");
  positive(target_vocab(), "the target vocabulary size");
  positive(dim_emb(), "--dim-emb");
  positive(dim_rnn(), "--dim-rnn");
  positive(enc_depth(), "--enc-depth");
  positive(dec_depth(), "--dec-depth");
  positive(dec_cell_base_depth(), "--dec-cell-base-depth");
  positive(enc_cell_depth(), "--enc-cell-depth");
  if (conditional_decoder()) {
    if (attention() != AttentionType::kBahdanau) {
      throw Error("--dec-cell-base-depth " + std::to_string(dec_cell_base_depth()) +
                  " (the conditional decoder) attends between its transitions with --attention bahdanau, not " +
                  attention_type_name(attention()));
    }
    if (dec_depth() != 1) {
      throw Error("--dec-cell-base-depth " + std::to_string(dec_cell_base_depth()) +
                  " deepens the decoder's one layer; it takes --dec-depth 1, not " + std::to_string(dec_depth()));
    }
  }
  for (const auto& [value, option] : {std::pair<double, const char*>{dropout_emb(), "--dropout-emb"},
                                      {dropout_rnn(), "--dropout-rnn"},
                                      {dropout_out(), "--dropout-out"},
                                      {dropout_src(), "--dropout-src"},
                                      {dropout_trg(), "--dropout-trg"}}) {
    if (value < 0.0 || value >= 1.0) {
      throw Error(std::string(option) + " must be in [0, 1), got " + std::to_string(value));
    }
  }
  if (shared_embeddings() && source_vocab() != target_vocab()) {
    throw Error("--tied-embeddings-src needs one joint vocabulary, but the source has " +
                std::to_string(source_vocab()) + " pieces and the target " + std::to_string(target_vocab()));
  }
  if (attention() == AttentionType::kLuongDot && memory_size() != dim_rnn()) {
    throw Error("--attention luong-dot compares decoder and encoder states directly, so they need one width, "
                "but a bidirectional encoder gives " + std::to_string(memory_size()) +
                "; use --attention luong-general or --enc-type unidirectional");
  }
  if (!deep_output()) {
    if (attention() != AttentionType::kNone) {
      throw Error("--deep-output false leaves no layer to combine the attention's context with the state; "
                  "it needs --attention none");
    }
    if (dim_rnn() != dim_emb()) {
      throw Error("--deep-output false feeds the recurrent state (--dim-rnn " + std::to_string(dim_rnn()) +
                  ") to the output layer, which reads --dim-emb " + std::to_string(dim_emb()) + " values: make them equal");
    }
  }
  if (is_language_model()) {
    if (source_vocab() != target_vocab()) {
      throw Error("a language model (--type lm) has one vocabulary, but the options give " +
                  std::to_string(source_vocab()) + " and " + std::to_string(target_vocab()) + " pieces");
    }
    if (attention() != AttentionType::kNone) {
      throw Error("a language model (--type lm) has no source to attend to; use --attention none");
    }
    if (decoder_init() != DecoderInit::kZeros) {
      throw Error("a language model (--type lm) has no encoder to start the decoder from; use --dec-init zeros");
    }
    if (shared_embeddings()) throw Error("--tied-embeddings-src needs a source side; a language model has none");
    return;
  }
  if (attention() == AttentionType::kNone && decoder_init() == DecoderInit::kZeros) {
    throw Error("--attention none with --dec-init zeros leaves the decoder blind to the source; "
                "use --dec-init bridge");
  }
}

std::string ModelOptions::to_json() const {
  const nlohmann::ordered_json j = {{"type", model_type_name(type())},
                                    {"source-vocab", source_vocab()},
                                    {"target-vocab", target_vocab()},
                                    {"dim-emb", dim_emb()},
                                    {"dim-rnn", dim_rnn()},
                                    {"enc-depth", enc_depth()},
                                    {"dec-depth", dec_depth()},
                                    {"cell", cell_type_name(cell())},
                                    {"enc-type", bidirectional() ? "bidirectional" : "unidirectional"},
                                    {"attention", attention_type_name(attention())},
                                    {"dec-init", decoder_init_name(decoder_init())},
                                    {"tied-embeddings-src", shared_embeddings()},
                                    {"tied-embeddings", tied_output()},
                                    {"deep-output", deep_output()},
                                    {"layer-normalization", layer_norm()},
                                    {"dec-cell-base-depth", dec_cell_base_depth()},
                                    {"enc-cell-depth", enc_cell_depth()},
                                    {"dropout-emb", dropout_emb()},
                                    {"dropout-rnn", dropout_rnn()},
                                    {"dropout-out", dropout_out()},
                                    {"dropout-src", dropout_src()},
                                    {"dropout-trg", dropout_trg()}};
  return j.dump();
}

ModelOptions ModelOptions::from_json(const std::string& json, const std::string& origin) {
  try {
    const auto j = nlohmann::json::parse(json);
    const auto enc_type = j.at("enc-type").get<std::string>();
    if (enc_type != "bidirectional" && enc_type != "unidirectional") {
      throw Error(origin + ": model options hold an unknown enc-type '" + enc_type + "'");
    }
    ModelOptions o(j.at("source-vocab").get<int64_t>(), j.at("target-vocab").get<int64_t>());
    o.type(parse_model_type(j.at("type").get<std::string>()))
        .dim_emb(j.at("dim-emb").get<int64_t>())
        .dim_rnn(j.at("dim-rnn").get<int64_t>())
        .enc_depth(j.at("enc-depth").get<int64_t>())
        .dec_depth(j.at("dec-depth").get<int64_t>())
        .cell(parse_cell_type(j.at("cell").get<std::string>()))
        .bidirectional(enc_type == "bidirectional")
        .attention(parse_attention_type(j.at("attention").get<std::string>()))
        .decoder_init(parse_decoder_init(j.at("dec-init").get<std::string>()))
        .shared_embeddings(j.at("tied-embeddings-src").get<bool>())
        .tied_output(j.at("tied-embeddings").get<bool>())
        .deep_output(j.contains("deep-output") ? j.at("deep-output").get<bool>() : true)  // absent before it existed
        .layer_norm(j.value("layer-normalization", false))
        .dec_cell_base_depth(j.value("dec-cell-base-depth", int64_t{1}))
        .enc_cell_depth(j.value("enc-cell-depth", int64_t{1}))
        .dropout_emb(j.at("dropout-emb").get<double>())
        .dropout_rnn(j.at("dropout-rnn").get<double>())
        .dropout_out(j.at("dropout-out").get<double>())
        .dropout_src(j.value("dropout-src", 0.0))  // absent before word dropout existed
        .dropout_trg(j.value("dropout-trg", 0.0));
    return o;
  } catch (const nlohmann::json::exception& e) {
    throw Error(origin + ": the model options are damaged (" + e.what() + "); the file is not a Tandem model");
  } catch (const Error& e) {
    throw Error(origin + ": the model options are damaged (" + e.what() + ")");
  }
}

}  // namespace tandem::model
