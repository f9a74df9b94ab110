/* The ulpgate C API: how another project's kernels meet the suite.
 *
 * A plugin is a shared library exporting one function, ulpgate_plugin_entry(), that returns its
 * table: the ABI version it was built against, and one row per op it implements (the op as case
 * ids name it, the profile its outputs claim to follow bit for bit, the archs it runs on, and the
 * function to call). `ulpgate run|gate|repro --backend plugin:PATH` loads it, runs every catalog
 * case whose op and profile a row claims, hands the function DLPack tensors over the case's
 * inputs and its poisoned, guard-fenced outputs, and judges what comes back.
 *
 * Tensors (ABI version 1): compact row-major (strides NULL), in host memory (kDLCPU) for the host
 * archs and in device memory (kDLCUDA, the current device) for a GPU arch ("sm90"): the suite
 * uploads the inputs and fences the outputs with guard regions on the device too; the kernel's
 * work must be done, or queued on `stream`, when the function returns. Element types:
 * bf16 {kDLBfloat, 16}, fp16 {kDLFloat, 16}, fp32 {kDLFloat, 32}; fp8 codes and scale storage
 * travel as bytes {kDLUInt, 8}, their format named by a parameter.
 *
 *   quant.group / quant.token / quant.block / quant.mx / quant.tensor / quant.silu-mul
 *     in   x       [M, K]  bf16, fp16 or fp32 (quant.silu-mul: [M, 2K], gate then up per row)
 *     in   scale   [1]     fp32 (quant.tensor with a static scale only, also as the float parameter
 *                          static_scale; its "scales" has 0 bytes)
 *     out  codes   [M, K]  fp8 codes (param "format")
 *     out  scales  [B]     the scale storage bytes of layout "scale_layout" (padding included:
 *                          spec/quant.md says what each layout's padding holds)
 *     params  format (text), group_size (int; 0 for quant.tensor), scale_layout (text),
 *             ue8m0 (int 0/1), fp8_max (float)
 *   norm.rms / norm.rms-add / norm.rms-quant / norm.rms-add-quant
 *     in   x [M, H], weight [H], residual [M, H] (rms-add, rms-add-quant)   bf16 or fp16
 *     in   scale [1] fp32 (a static per-tensor scale only, also as the float parameter static_scale;
 *          "scales" then has 0 bytes)
 *     out  y [M, H] (rms, rms-add), residual_out [M, H] (rms-add, rms-add-quant),
 *          codes [M, H] and scales [B] (rms-quant, rms-add-quant, as for quant)
 *     params  eps (float); the quantizing ops also format, group_size (0: per token or per
 *             tensor), scale_layout, ue8m0, fp8_max, and scale_ub (float) where the case has one
 *   gemm.tensor / gemm.rowwise / gemm.block / gemm.mx          D = (A x B^T) scaled
 *     in   a [M, K] fp8 codes (param a_format), b [N, K] fp8 codes in the profile's weight layout
 *          (b_format), scale_a and scale_b: the scale storage bytes in the profile's layouts
 *          (spec/gemm.md; gemm.tensor: one fp32 each, gemm.rowwise: fp32 [M] and [N])
 *     out  d [M, N] bf16 or fp32 (param out)
 *     params  a_format, b_format, out (text), ue8m0 (int 0/1)
 *     A GEMM row also names the accumulator model its outputs follow bit for bit (`model`, one
 *     of the reference's models: "sm90", "sm90-fast-accum", "fp32-fma", ..., or a variant of one,
 *     "sm90-fast-accum/split=4:pairwise"), or NULL: the suite then identifies the accumulation
 *     the outputs follow among the arch's matrix paths and names it in the story.
 *   allreduce (ABI version 2)         every rank's y = the sum over ranks of x; profile: the variant
 *                                     ("custom-1shot", "custom-2shot", "custom-auto", "nccl"), whose
 *                                     summation order the outputs claim (spec/allreduce.md)
 *     in   x.r0 .. x.rW-1  [S]  each rank's input storage (bf16, fp16 or fp32)
 *     out  y.r0 .. y.rW-1  [S]  each rank's output storage; in place (param in_place = 1) there
 *                               are no inputs and y.rR holds rank R's input when the call starts
 *     params  world (int), offset and count (int): the reduced tensor is elements
 *             [offset, offset + count) of every rank's storage, the rest of the storage must keep
 *             its bytes; in_place (int 0/1)
 *     All ranks come in one call, in host memory (host archs only: a GPU all-reduce runs its ranks
 *     as processes, which the ABI does not carry). A case is called twice: a repeat must give the
 *     same bits.
 *
 * A function returns 0 when it wrote every output element, or non-zero after writing a message
 * into `message` (the case's verdict is then `error`, with that message). ULPGATE_REFUSED says the
 * kernel does not take this input (the message names its rule: an all-reduce of a view that is not
 * weakly contiguous, spec/allreduce.md R19): a pass where the spec allows the refusal, `error`
 * elsewhere. Writes outside an output are caught by the guard regions around it (the verdict names
 * the tensor and the offset); a crash or a hang is caught with `--isolate` (each case in a child
 * process).
 */
#ifndef ULPGATE_ULPGATE_H
#define ULPGATE_ULPGATE_H

#include <dlpack/dlpack.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version 2 added the all-reduce op and ULPGATE_REFUSED; a plugin built for version 1 still loads. */
#define ULPGATE_ABI_VERSION 2u
#define ULPGATE_ABI_MIN_VERSION 1u
#define ULPGATE_REFUSED (-2)
#define ULPGATE_PLUGIN_ENTRY "ulpgate_plugin_entry"

typedef enum { ULPGATE_PARAM_INT = 0, ULPGATE_PARAM_FLOAT = 1, ULPGATE_PARAM_TEXT = 2 } ulpgate_param_kind;

typedef struct {
  const char* name;
  ulpgate_param_kind kind;
  int64_t int_value;
  double float_value;
  const char* text_value;
} ulpgate_param;

typedef struct {
  const char* name; /* "x", "weight", "codes", ... as listed above */
  DLTensor tensor;
} ulpgate_tensor;

typedef struct {
  const char* op;      /* "quant.group", "norm.rms", ... */
  const char* profile; /* the profile of the case (one the plugin's row claims) */
  const char* arch;    /* the arch the case runs for ("host-w32", "sm90", ...) */
  const ulpgate_tensor* inputs;
  int32_t n_inputs;
  const ulpgate_tensor* outputs;
  int32_t n_outputs;
  const ulpgate_param* params;
  int32_t n_params;
  void* stream; /* device tensors: the cudaStream_t the suite waits for; NULL on the host */
} ulpgate_call;

typedef int (*ulpgate_op_fn)(void* state, const ulpgate_call* call, char* message, size_t message_size);

typedef struct {
  const char* op;      /* the op, as case ids name it */
  const char* profile; /* the profile its outputs claim, bit for bit */
  const char* archs;   /* comma-separated archs it runs on, e.g. "host-w32,host-w64" */
  ulpgate_op_fn run;
  const char* model; /* gemm rows: the accumulator model claimed; NULL for other ops */
} ulpgate_op;

typedef struct {
  uint32_t abi_version; /* ULPGATE_ABI_VERSION of the header the plugin was built with */
  const char* name;
  const char* version;
  const ulpgate_op* ops;
  int32_t n_ops;
  void* state; /* handed back to every call */
} ulpgate_plugin;

/* The one symbol a plugin exports: ULPGATE_EXPORT const ulpgate_plugin* ulpgate_plugin_entry(void). */
typedef const ulpgate_plugin* (*ulpgate_plugin_entry_fn)(void);
#define ULPGATE_EXPORT __attribute__((visibility("default")))

/* ---- Embedding: a program (a test in another project, the Python package) drives ulpgate
 * through libulpgate.so, with its own kernel as a function of the plugin signature. ---- */

typedef struct ulpgate_session ulpgate_session;

typedef struct {
  const char* case_id;
  const char* backend; /* the name golden rows carry: "plugin:NAME@ARCH" */
  const char* verdict; /* "exact", "within-budget", "over-budget", "non-finite", "layout",
                          "out-of-bounds" or "error" */
  int32_t passed;      /* exact or within budget */
  double max_ulp;
  uint64_t digest;     /* xxHash64 of the outputs, as golden files hold it */
  const char* story;   /* the suite's account: counts, first bad elements, diagnosis, repro */
} ulpgate_result;

/* The CI-tier catalog cases matching `filter` (a glob over case ids), to be judged for `arch`
 * ("host-w32" unless the kernel follows another arch's semantics) under the backend name
 * "plugin:NAME@ARCH". NULL on bad input, with `message` saying why. */
ulpgate_session* ulpgate_open(const char* filter, const char* arch, const char* name, char* message, size_t message_size);
int32_t ulpgate_case_count(const ulpgate_session* session);
const char* ulpgate_case_id(const ulpgate_session* session, int32_t index);
/* Judging a case with the program as its kernel, one op call at a time (no function pointer
 * needed): ulpgate_begin starts the case (any id, in the catalog or not): the suite generates the
 * inputs and poisons and fences the outputs. Each step returns 0 with either *call, an op call for
 * the program (as a plugin's function gets it; valid until the next submit), or *call NULL and
 * *result the verdict (its strings valid until the next case ends or close). The program writes
 * the call's outputs and hands them back with ulpgate_submit: status 0, or what its kernel
 * returned (non-zero, ULPGATE_REFUSED) with kernel_message. A case may make more than one call
 * (an all-reduce repeats to see the same bits):
 *
 *   const ulpgate_call* call; ulpgate_result result;
 *   int rc = ulpgate_begin(session, id, NULL, &call, &result, msg, sizeof msg);
 *   while (rc == 0 && call) rc = ulpgate_submit(session, my_kernel(call), "", &call, &result, msg, sizeof msg);
 *
 * Non-zero with `message`: an id that does not parse, a case the kernel cannot be asked (a GPU
 * all-reduce), a submit with no call waiting. `model`: for GEMM cases, the accumulator model the
 * kernel claims (NULL otherwise). Beginning another case, or closing, abandons an unfinished one
 * (its result is not recorded). The case runs on a thread of the suite's, the program's kernel on
 * the program's own thread. A GEMM case with model NULL is identified (as a plugin row without a
 * model is). */
int ulpgate_begin(ulpgate_session* session, const char* case_id, const char* model, const ulpgate_call** call,
                  ulpgate_result* result, char* message, size_t message_size);
int ulpgate_submit(ulpgate_session* session, int status, const char* kernel_message, const ulpgate_call** call,
                   ulpgate_result* result, char* message, size_t message_size);
/* `ulpgate reveal` with the program as the kernel (a gemm.* or allreduce/ case id; README "Revealing
 * an order"): the suite makes the designed op calls, each handed out and answered as ulpgate_begin's
 * are, until *call is NULL; then result->story is what was revealed (the tree, the model rows with
 * it and whether one reproduces the kernel) and result->verdict "exact" when an order was revealed,
 * "error" when none was (not deterministic, or not an ordered sum). Not recorded for the gate. */
int ulpgate_begin_reveal(ulpgate_session* session, const char* case_id, const ulpgate_call** call, ulpgate_result* result,
                         char* message, size_t message_size);
/* The same with `kernel` as the implementation: kernel(state, call, ...) is called for each op call
 * as a plugin's function is. Returns 0 with *result, or non-zero with `message` as above. */
int ulpgate_judge(ulpgate_session* session, const char* case_id, ulpgate_op_fn kernel, void* state, const char* model,
                  ulpgate_result* result, char* message, size_t message_size);
void ulpgate_close(ulpgate_session* session);

/* The golden-file gate over every case this session judged (the last result of each), against
 * golden_dir/<family>.csv (golden_dir is golden/<arch>; a missing file is an error). Rows of
 * cases not judged here, or of other backends, are left out. Returns 0 when every case is
 * identical to its row, 1 on a drift, a regression or a new case (new passes with allow_new), 2
 * on a missing or malformed file; `report` gets a line per case that is not identical, then the
 * summary. */
int ulpgate_gate(ulpgate_session* session, const char* golden_dir, int allow_new, char* report, size_t report_size);
/* Writes the session's results into golden_dir/<family>.csv (other rows kept), with `device`
 * named as real hardware in the provenance (NULL or "": an emulation). 0, or 2 with `report`. */
int ulpgate_golden_update(ulpgate_session* session, const char* golden_dir, const char* device, char* report,
                          size_t report_size);

/* The reference's conversion of n fp32 values: `conversion` as `ulpgate convert --to` takes it,
 * "FORMAT[:policy[:rounding[:flags]]]" (e.g. "e4m3fn:nosat", "ue8m0:nosat:rn"); one code per value.
 * Returns 0, or non-zero with `message` for a conversion that does not parse. */
int ulpgate_encode(const char* conversion, const float* values, size_t n, uint8_t* codes, char* message, size_t message_size);

/* An accumulator model's matrix instruction (reference/gemm/model.hpp), chained: for each of `count`
 * dot products of length k, the model's MMA steps over K ascending (a short last step zero-padded),
 * each taking the previous result as its accumulator, from c[i] (NULL: +0); a[i*k + j] and b[i*k + j]
 * are fp8 codes of a_format / b_format ("e4m3fn", "e5m2", "e4m3fnuz", "e5m2fnuz"); scale_exp
 * (NULL: none) holds, per dot product and step, the exponent of a power-of-two scale applied inside
 * the step (block-scaled instructions: ue8m0 of A plus ue8m0 of B). No promotion, split or epilogue:
 * the instruction alone, for independent simulators to check. Returns 0, or non-zero with `message`. */
int ulpgate_model_chain(const char* model, const char* a_format, const char* b_format, size_t count, size_t k,
                        const uint8_t* a, const uint8_t* b, const float* c, const int32_t* scale_exp, float* out,
                        char* message, size_t message_size);

/* An HTML report (the CLI's: verdicts, stories, error maps) of every case this session judged, at
 * `path`; with golden_dir (golden/<arch>, may be NULL) the gate's classes too. Returns 0, or
 * non-zero with `message`. */
int ulpgate_report_html(ulpgate_session* session, const char* path, const char* golden_dir, char* message,
                        size_t message_size);

/* Where a quantizer's scales go in its scale storage: a `layout` as the case's scale_layout
 * parameter names it ("row", "col", "col-tma", "aiter-tview", "token", "ue8m0-packed", "mx-row",
 * "mx-swizzle-128x4") for a logical [rows, groups] scale tensor. Sets *storage_bytes, *scale_bytes
 * (4: an fp32 scale; 1: a ue8m0 exponent byte), offsets[r * groups + g] (the byte offset of scale
 * (r, g); may be NULL) and storage (may be NULL; *storage_bytes of them: every byte that holds no
 * scale set to the padding the layout defines, the scale bytes 0). Returns 0, or non-zero with
 * `message` for an unknown layout. */
int ulpgate_scale_layout(const char* layout, int64_t rows, int64_t groups, int64_t* offsets, uint8_t* storage,
                         int64_t* storage_bytes, int32_t* scale_bytes, char* message, size_t message_size);

/* Helpers for plugin authors: a parameter or tensor of a call by name (NULL when absent). */
static inline const ulpgate_param* ulpgate_find_param(const ulpgate_call* call, const char* name) {
  for (int32_t i = 0; i < call->n_params; ++i)
    if (strcmp(call->params[i].name, name) == 0) return &call->params[i];
  return NULL;
}
static inline const DLTensor* ulpgate_find_tensor(const ulpgate_tensor* tensors, int32_t n, const char* name) {
  for (int32_t i = 0; i < n; ++i)
    if (strcmp(tensors[i].name, name) == 0) return &tensors[i].tensor;
  return NULL;
}

#ifdef __cplusplus
}
#endif

#endif /* ULPGATE_ULPGATE_H */
