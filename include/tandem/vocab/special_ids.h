// The special token ids every Tandem vocabulary uses.
//
// tandem-vocab trains SentencePiece models with exactly these ids, the same the
// PyTorch reference (../shared/peers) uses; Tokenizer refuses a model with other
// ids, since the model's embedding rows and the padding masks depend on them.
#pragma once

#include <cstdint>

namespace tandem::vocab {

constexpr int32_t kPadId = 0;  ///< padding; never predicted, never counted in the loss
constexpr int32_t kUnkId = 1;  ///< unknown piece
constexpr int32_t kBosId = 2;  ///< begin of sentence, the decoder's first input
constexpr int32_t kEosId = 3;  ///< end of sentence, the decoder's last output

}  // namespace tandem::vocab
