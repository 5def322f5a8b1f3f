// Internal: the body of each program; tools/*.cpp hold one-line mains.
#pragma once

namespace tandem::cli {

int bleu_main(int argc, char** argv);    ///< tandem-bleu
int vocab_main(int argc, char** argv);   ///< tandem-vocab
int corpus_main(int argc, char** argv);  ///< tandem-corpus
int train_main(int argc, char** argv);   ///< tandem-train
int translate_main(int argc, char** argv);  ///< tandem-translate
int score_main(int argc, char** argv);      ///< tandem-score
int sample_main(int argc, char** argv);     ///< tandem-sample
int checkpoint_main(int argc, char** argv);  ///< tandem-checkpoint
int average_main(int argc, char** argv);     ///< tandem-average
int server_main(int argc, char** argv);      ///< tandem-server
int bench_main(int argc, char** argv);       ///< tandem-bench
int plot_main(int argc, char** argv);        ///< tandem-plot

}  // namespace tandem::cli
