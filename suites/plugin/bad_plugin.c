/* Test-only plugins that misbehave, one kind per build (BAD_KIND): each must get its defined
 * result from ulpgate, never a crash of the suite (suites/plugin/plugin_test.sh). Written in C:
 * the ABI is a C ABI. They claim quant.token with the vllm profile on host-w32.
 *   1 no_entry   exports no ulpgate_plugin_entry               exit 3 naming the symbol
 *   2 old_abi    built for ABI version 0                        exit 3 naming both versions
 *   3 malformed  a row without a function                       exit 3 naming the row
 *   4 fails      the op returns an error with a message         verdict error, the message
 *                (built for ABI version 1: an older plugin still loads and runs)
 *   5 stray      writes one byte past the codes                 verdict out-of-bounds, codes
 *   6 crash      dereferences a null pointer                    --isolate: error, SIGSEGV
 *   7 hang       never returns                                  --isolate --timeout: error
 *   8 future_abi built for a newer ABI version                      exit 3 naming both versions
 *   9 refuses    refuses its input (ULPGATE_REFUSED)               verdict error: a quantizer
 *                                                                  must take every input */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "include/ulpgate/ulpgate.h"

static int64_t elements(const DLTensor* t) {
  int64_t n = 1;
  for (int i = 0; i < t->ndim; ++i) n *= t->shape[i];
  return n;
}

static int run(void* state, const ulpgate_call* call, char* message, size_t size) {
  (void)state;
  const DLTensor* codes = ulpgate_find_tensor(call->outputs, call->n_outputs, "codes");
  const DLTensor* scales = ulpgate_find_tensor(call->outputs, call->n_outputs, "scales");
  memset(codes->data, 0, (size_t)elements(codes));
  memset(scales->data, 0, (size_t)elements(scales));
  switch (BAD_KIND) {
    case 4: snprintf(message, size, "no kernel for K = %lld", (long long)codes->shape[1]); return 7;
    case 5: ((unsigned char*)codes->data)[elements(codes)] = 0x5a; return 0;
    case 6: *(volatile int*)0 = 1; return 0;
    case 7: for (;;) pause();
    case 9: snprintf(message, size, "takes K a multiple of 256 only"); return ULPGATE_REFUSED;
  }
  return 0;
}

static const ulpgate_op ops[] = {{"quant.token", "vllm", "host-w32", BAD_KIND == 3 ? NULL : run, NULL}};
#if BAD_KIND == 2
#define BAD_ABI 0u
#elif BAD_KIND == 4
#define BAD_ABI ULPGATE_ABI_MIN_VERSION
#elif BAD_KIND == 8
#define BAD_ABI (ULPGATE_ABI_VERSION + 1u)
#else
#define BAD_ABI ULPGATE_ABI_VERSION
#endif
static const ulpgate_plugin plugin = {BAD_ABI, "bad", "1", ops, 1, NULL};

#if BAD_KIND != 1
ULPGATE_EXPORT const ulpgate_plugin* ulpgate_plugin_entry(void) { return &plugin; }
#else
ULPGATE_EXPORT const ulpgate_plugin* not_the_entry(void) { return &plugin; }
#endif
