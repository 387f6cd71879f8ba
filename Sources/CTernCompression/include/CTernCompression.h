#ifndef CTERN_COMPRESSION_H
#define CTERN_COMPRESSION_H
// Placeholder: the compression shims land with the record-batch work.
#include <stddef.h>
int tern_compression_placeholder(void);
#endif
