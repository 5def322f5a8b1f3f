// The --device option of every LibTorch program.
#pragma once

#include <torch/types.h>

#include <string>

namespace tandem::util {

/// Parses "cpu", "cuda" or "cuda:N"; throws tandem::Error for anything else,
/// and for CUDA where this LibTorch build or machine has none.
torch::Device parse_device(const std::string& name);

}  // namespace tandem::util
