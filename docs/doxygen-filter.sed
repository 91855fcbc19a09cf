# Turns lagrad's plain C comments into Doxygen comments while Doxygen reads a header
# (FILTER_PATTERNS in Doxyfile.in); the files themselves are not changed.
# The comment that opens a header describes the file.
1s|^/\* |/** @file\n * |
# Section banners (/* ---- solving ---- */) stay plain comments.
/^[ \t]*\/\* ---- .* ---- \*\/$/b
# A comment after a declaration, a member or an enum value documents that line.
s|\([;,]\)\([ \t]*\)/\* |\1\2/**< |
# Any other comment documents what follows it.
s|^\([ \t]*\)/\* |\1/** |
