/* upward.c - a deliberate upward include: util, the bottom layer, naming a header of the
 * store layer. Built only by the ctest entry layers/upward_include_fails, which passes when
 * the compiler cannot find the header (the layering holds) and fails when it compiles. */
#include "mailstore.h"
int layer_probe(void);
int layer_probe(void) { return 0; }
