// The web page tandem-server serves at GET /: a text box, a translate button,
// the translation and its attention as a heat map (source pieces across,
// target pieces down), all through POST /translate.
#pragma once

#include <string>

namespace tandem::serve {

const std::string& page_html();

}  // namespace tandem::serve
