#include "tandem/model/model_options.h"

#include <map>
#include <sstream>

#include "tandem/error.h"

namespace tandem::model {
namespace {

template <typename Enum>
struct Names {
  Enum value;
  const char* name;
};

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
  for (const auto& [value, option] : {std::pair<double, const char*>{dropout_emb(), "--dropout-emb"},
                                      {dropout_rnn(), "--dropout-rnn"},
                                      {dropout_out(), "--dropout-out"}}) {
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
  if (attention() == AttentionType::kNone && decoder_init() == DecoderInit::kZeros) {
    throw Error("--attention none with --dec-init zeros leaves the decoder blind to the source; "
                "use --dec-init bridge");
  }
}

std::string ModelOptions::to_text() const {
  std::ostringstream out;
  out << "source-vocab=" << source_vocab() << "\ntarget-vocab=" << target_vocab() << "\ndim-emb=" << dim_emb()
      << "\ndim-rnn=" << dim_rnn() << "\nenc-depth=" << enc_depth() << "\ndec-depth=" << dec_depth()
      << "\ncell=" << cell_type_name(cell()) << "\nenc-type=" << (bidirectional() ? "bidirectional" : "unidirectional")
      << "\nattention=" << attention_type_name(attention()) << "\ndec-init=" << decoder_init_name(decoder_init())
      << "\ntied-embeddings-src=" << shared_embeddings() << "\ntied-embeddings=" << tied_output()
      << "\ndropout-emb=" << dropout_emb() << "\ndropout-rnn=" << dropout_rnn() << "\ndropout-out=" << dropout_out()
      << "\n";
  return out.str();
}

ModelOptions ModelOptions::from_text(const std::string& text, const std::string& origin) {
  std::map<std::string, std::string> fields;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (line.empty()) continue;
    if (eq == std::string::npos) throw Error(origin + ": malformed model options line '" + line + "'");
    fields[line.substr(0, eq)] = line.substr(eq + 1);
  }
  const auto get = [&](const char* key) {
    const auto it = fields.find(key);
    if (it == fields.end()) throw Error(origin + ": model options lack '" + key + "'; the file is damaged or not a Tandem model");
    return it->second;
  };
  try {
    ModelOptions o(std::stoll(get("source-vocab")), std::stoll(get("target-vocab")));
    o.dim_emb(std::stoll(get("dim-emb")))
        .dim_rnn(std::stoll(get("dim-rnn")))
        .enc_depth(std::stoll(get("enc-depth")))
        .dec_depth(std::stoll(get("dec-depth")))
        .cell(parse_cell_type(get("cell")))
        .bidirectional(get("enc-type") == "bidirectional")
        .attention(parse_attention_type(get("attention")))
        .decoder_init(parse_decoder_init(get("dec-init")))
        .shared_embeddings(get("tied-embeddings-src") == "1")
        .tied_output(get("tied-embeddings") == "1")
        .dropout_emb(std::stod(get("dropout-emb")))
        .dropout_rnn(std::stod(get("dropout-rnn")))
        .dropout_out(std::stod(get("dropout-out")));
    return o;
  } catch (const std::logic_error& e) {  // stoll/stod
    throw Error(origin + ": model options hold a malformed number (" + e.what() + ")");
  }
}

}  // namespace tandem::model
