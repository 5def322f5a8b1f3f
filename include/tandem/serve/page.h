// The web page tandem-server serves at GET /: a text box, a translate button,
// the translation and its attention as a heat map (source pieces across,
// target pieces down), all through POST /translate. /?text=LINE[&beam=N] fills
// the form and presses the button (links to a translation; browser tests).
#pragma once

#include <string>

namespace tandem::serve {

const std::string& page_html();

}  // namespace tandem::serve
