// The web page tandem-server serves at GET /: the model's language pair (from
// GET /languages), a text box, a translate button, the translation and the time
// it took, and its attention as a heat map with a colour scale (source pieces
// across, target pieces down, in a box of its own that scrolls, so the page fits
// a phone's width), all through POST /translate; an API key field appears when
// the server asks for one. /?text=LINE[&beam=N] fills
// the form and presses the button (links to a translation; browser tests).
#pragma once

#include <string>

namespace tandem::serve {

const std::string& page_html();

}  // namespace tandem::serve
