#include "CTernCompression.h"
int tern_compression_placeholder(void) { return 0; }
