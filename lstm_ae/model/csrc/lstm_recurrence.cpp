// The recurrent half of an LSTM layer, forward and backward, for CPU.
//
// Why: oneDNN's fused LSTM always projects the input of every step, but our decoder is fed
// the same z at every step, so that projection is one (B, 4H) product, not T of them. With
// the input projection done outside (one large product, by autograd), what is left is the
// recurrence: per step one small product h_{t-1} W_hh^T and the gate arithmetic, which this
// file fuses into one pass over memory. Products and the layer's output h run in the weights'
// dtype (bf16 under autocast, as autocast's nn.LSTM returns); gate activations, cell states and
// gradients stay in fp32.
//
// Gate order is PyTorch's: input, forget, cell (g), output.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

// Everything the per-element loops call must be inlined, or the loops do not vectorize.
#define LSTM_AE_INLINE inline __attribute__((always_inline))
// The loops read and write rows of distinct buffers, which never overlap: let them vectorize.
#if defined(__clang__)
#define LSTM_AE_NO_ALIASING _Pragma("clang loop vectorize(assume_safety)")
#else
#define LSTM_AE_NO_ALIASING _Pragma("GCC ivdep")
#endif

// e^x in a form the compiler vectorizes (Cephes' expf: range reduction by ln 2, degree-5
// polynomial; relative error ~1e-7). NaN stays NaN; the clamp keeps 2^n a normal float.
LSTM_AE_INLINE float exp_vec(float x) {
  x = x < -87.f ? -87.f : x;
  x = x > 88.f ? 88.f : x;
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  const uint32_t bits = static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

LSTM_AE_INLINE float sigmoid(float x) { return 1.f / (1.f + exp_vec(-x)); }
LSTM_AE_INLINE float tanh_fast(float x) { return 2.f * sigmoid(2.f * x) - 1.f; }

// Product-dtype element access, written so that the compiler vectorizes the loops.
LSTM_AE_INLINE float to_float(float v) { return v; }
LSTM_AE_INLINE float to_float(uint16_t bf16) {
  uint32_t bits = static_cast<uint32_t>(bf16) << 16;
  float out;
  std::memcpy(&out, &bits, sizeof(out));
  return out;
}
LSTM_AE_INLINE void store(float* p, float v) { *p = v; }
LSTM_AE_INLINE void store(uint16_t* p, float v) {  // to bf16, rounding to nearest even
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  *p = static_cast<uint16_t>(bits >> 16);
}

// Gate arithmetic of one step for rows [b0, b1): activations, c_t, and h_t in the product dtype.
template <typename P>
void forward_rows(int64_t b0, int64_t b1, int64_t H, const float* __restrict gx, const P* __restrict rec,
                  const float* __restrict c_prev, float* __restrict act, float* __restrict c, P* __restrict h) {
  const int64_t G = 4 * H;
  for (int64_t b = b0; b < b1; ++b) {
    const float* __restrict xi = gx + b * G;  // one pointer per gate keeps the accesses simple
    const float* __restrict xf = xi + H;
    const float* __restrict xg = xi + 2 * H;
    const float* __restrict xo = xi + 3 * H;
    const P* __restrict ri = rec + b * G;
    const P* __restrict rf = ri + H;
    const P* __restrict rg = ri + 2 * H;
    const P* __restrict ro = ri + 3 * H;
    float* __restrict ai = act + b * G;
    float* __restrict af = ai + H;
    float* __restrict ag = ai + 2 * H;
    float* __restrict ao = ai + 3 * H;
    const float* __restrict cpb = c_prev + b * H;
    float* __restrict cb = c + b * H;
    P* __restrict hb = h + b * H;
    LSTM_AE_NO_ALIASING
    for (int64_t j = 0; j < H; ++j) {
      const float i = sigmoid(xi[j] + to_float(ri[j]));
      const float f = sigmoid(xf[j] + to_float(rf[j]));
      const float g = tanh_fast(xg[j] + to_float(rg[j]));
      const float o = sigmoid(xo[j] + to_float(ro[j]));
      const float cn = f * cpb[j] + i * g;
      ai[j] = i;
      af[j] = f;
      ag[j] = g;
      ao[j] = o;
      cb[j] = cn;
      store(hb + j, o * tanh_fast(cn));
    }
  }
}

// Gradients of one step for rows [b0, b1). dh_rec: gradient reaching h_t through step t+1;
// dh_out: gradient of the output h_t; dc: in dc_t, out dc_{t-1}. Writes dgates in fp32
// (summed over steps when `accumulate`) and in the product dtype.
template <typename P, bool accumulate>
void backward_rows(int64_t b0, int64_t b1, int64_t H, const float* __restrict act, const float* __restrict c,
                   const float* __restrict c_prev, const P* __restrict dh_rec, const P* __restrict dh_out,
                   float* __restrict dc, float* __restrict dgates, P* __restrict dgates_prod) {
  const int64_t G = 4 * H;
  for (int64_t b = b0; b < b1; ++b) {
    const float* __restrict ai = act + b * G;
    const float* __restrict af = ai + H;
    const float* __restrict ag = ai + 2 * H;
    const float* __restrict ao = ai + 3 * H;
    const float* __restrict cb = c + b * H;
    const float* __restrict cpb = c_prev + b * H;
    const P* __restrict dhr = dh_rec + b * H;
    const P* __restrict dho = dh_out + b * H;
    float* __restrict dcb = dc + b * H;
    float* __restrict di_ = dgates + b * G;
    float* __restrict df_ = di_ + H;
    float* __restrict dg_ = di_ + 2 * H;
    float* __restrict do_ = di_ + 3 * H;
    P* __restrict qi = dgates_prod + b * G;
    P* __restrict qf = qi + H;
    P* __restrict qg = qi + 2 * H;
    P* __restrict qo = qi + 3 * H;
    LSTM_AE_NO_ALIASING
    for (int64_t j = 0; j < H; ++j) {
      const float dh = to_float(dhr[j]) + to_float(dho[j]);
      const float i = ai[j], f = af[j], g = ag[j], o = ao[j];
      const float tc = tanh_fast(cb[j]);
      const float dck = dcb[j] + dh * o * (1.f - tc * tc);
      const float di = dck * g * i * (1.f - i);
      const float df = dck * cpb[j] * f * (1.f - f);
      const float dg = dck * i * (1.f - g * g);
      const float dout = dh * tc * o * (1.f - o);
      dcb[j] = dck * f;
      if constexpr (accumulate) {
        di_[j] += di;
        df_[j] += df;
        dg_[j] += dg;
        do_[j] += dout;
      } else {
        di_[j] = di;
        df_[j] = df;
        dg_[j] = dg;
        do_[j] = dout;
      }
      store(qi + j, di);
      store(qf + j, df);
      store(qg + j, dg);
      store(qo + j, dout);
    }
  }
}

constexpr int64_t kRowGrain = 16;  // rows per task: B = 128 splits into 8

// Calls fn with a value of the product dtype's element type: float, or uint16_t holding bf16 bits
// (plain integers vectorize where c10::BFloat16 does not). Only these two are supported.
template <typename Fn>
void with_product_type(at::ScalarType type, Fn&& fn) {
  if (type == at::kBFloat16)
    fn(uint16_t());
  else
    fn(float());
}

template <typename P>
P* elements(const at::Tensor& t) {
  return reinterpret_cast<P*>(t.data_ptr());
}

// gx: (T, B, 4H), or (B, 4H) when the input is the same at every step, fp32. w_hh: (4H, H) in the
// product dtype (fp32 or bf16). The initial state (h0, c0) is zero.
// Returns hs (T + 1, B, H) in the product dtype with hs[0] = h0 = 0 and hs[t + 1] = h_t, c_T, and
// (when save) for backward: acts (T, B, 4H) gate activations and cs (T, B, H) cell states.
std::vector<at::Tensor> lstm_recurrence_forward(const at::Tensor& gx_in, const at::Tensor& w_hh,
                                                int64_t steps, bool save) {
  TORCH_CHECK(gx_in.scalar_type() == at::kFloat, "gx: float32");
  TORCH_CHECK(w_hh.scalar_type() == at::kFloat || w_hh.scalar_type() == at::kBFloat16, "w_hh: float32 or bfloat16");
  TORCH_CHECK(steps > 0, "steps must be positive");
  const auto gx = gx_in.contiguous();
  const bool constant = gx.dim() == 2;
  const int64_t B = gx.size(-2), H = w_hh.size(1), G = 4 * H;
  TORCH_CHECK(w_hh.size(0) == G && w_hh.size(1) == H, "w_hh must be (4H, H)");
  TORCH_CHECK(gx.size(-1) == G && gx.size(-2) == B && (constant || gx.size(0) == steps), "gx: (T, B, 4H) or (B, 4H)");
  const auto wt = w_hh.t();
  const auto f32 = gx.options();
  const auto c0 = at::zeros({B, H}, f32);
  auto hs = at::empty({steps + 1, B, H}, w_hh.options());
  auto acts = at::empty({save ? steps : 1, B, G}, f32);
  auto cs = at::empty({save ? steps : 2, B, H}, f32);
  auto rec = at::empty({B, G}, w_hh.options());
  hs[0].zero_();
  const float* c_prev = c0.data_ptr<float>();
  with_product_type(w_hh.scalar_type(), [&](auto tag) {
    using P = decltype(tag);
    for (int64_t t = 0; t < steps; ++t) {
      at::mm_out(rec, hs[t], wt);
      const float* x = gx.data_ptr<float>() + (constant ? 0 : t * B * G);
      const P* r = elements<P>(rec);
      float* a = acts.data_ptr<float>() + (save ? t * B * G : 0);
      float* c = cs.data_ptr<float>() + (save ? t : t % 2) * B * H;
      P* h = elements<P>(hs) + (t + 1) * B * H;
      at::parallel_for(0, B, kRowGrain, [&](int64_t b0, int64_t b1) { forward_rows<P>(b0, b1, H, x, r, c_prev, a, c, h); });
      c_prev = c;
    }
  });
  auto c_last = cs[save ? steps - 1 : (steps - 1) % 2].clone();
  if (!save) return {hs, c_last, at::Tensor(), at::Tensor()};
  return {hs, c_last, acts, cs};
}

// Gradients of the recurrence. grad_hs: (T, B, H) in the product dtype, or undefined; grad_cT:
// (B, H) or undefined. Returns dgx (like gx: (T, B, 4H), or (B, 4H) summed over steps when
// constant) fp32, and dw_hh (4H, H) in the product dtype. The initial state is the constant zero.
std::vector<at::Tensor> lstm_recurrence_backward(const at::Tensor& grad_hs_in, const at::Tensor& grad_cT,
                                                 const at::Tensor& w_hh, const at::Tensor& acts,
                                                 const at::Tensor& cs, const at::Tensor& hs, bool constant) {
  const int64_t T = acts.size(0), B = acts.size(1), G = acts.size(2), H = G / 4;
  const auto f32 = acts.options();
  const auto c0 = at::zeros({B, H}, f32);
  const auto grad_hs =
      grad_hs_in.defined() ? grad_hs_in.to(w_hh.scalar_type()).contiguous() : at::zeros({T, B, H}, w_hh.options());
  auto dc = grad_cT.defined() ? grad_cT.to(at::kFloat).contiguous().clone() : at::zeros({B, H}, f32);
  auto dgx = constant ? at::zeros({B, G}, f32) : at::empty({T, B, G}, f32);
  auto dg_prod = at::empty({T, B, G}, w_hh.options());  // dgates in the product dtype, for both products
  auto dh_rec = at::zeros({B, H}, w_hh.options());      // gradient reaching h_t through step t + 1
  with_product_type(w_hh.scalar_type(), [&](auto tag) {
    using P = decltype(tag);
    for (int64_t t = T - 1; t >= 0; --t) {
      const float* a = acts.data_ptr<float>() + t * B * G;
      const float* c = cs.data_ptr<float>() + t * B * H;
      const float* cp = t > 0 ? c - B * H : c0.data_ptr<float>();
      const P* dh_out = elements<P>(grad_hs) + t * B * H;
      const P* dhr = elements<P>(dh_rec);
      float* d = dgx.data_ptr<float>() + (constant ? 0 : t * B * G);
      P* q = elements<P>(dg_prod) + t * B * G;
      float* dcp = dc.data_ptr<float>();
      at::parallel_for(0, B, kRowGrain, [&](int64_t b0, int64_t b1) {
        if (constant)
          backward_rows<P, true>(b0, b1, H, a, c, cp, dhr, dh_out, dcp, d, q);
        else
          backward_rows<P, false>(b0, b1, H, a, c, cp, dhr, dh_out, dcp, d, q);
      });
      if (t > 0) at::mm_out(dh_rec, dg_prod[t], w_hh);  // (the gradient of the zero h0 is not needed)
    }
  });
  // dW_hh = sum_t dgates_t^T h_{t-1}: one large product instead of T small ones.
  auto dw = at::mm(dg_prod.view({T * B, G}).t(), hs.narrow(0, 0, T).reshape({T * B, H}));
  return {dgx, dw};
}

}  // namespace

TORCH_LIBRARY(lstm_ae, m) {
  m.def("lstm_recurrence_forward(Tensor gx, Tensor w_hh, int steps, bool save) -> Tensor[]");
  m.def(
      "lstm_recurrence_backward(Tensor? grad_hs, Tensor? grad_cT, Tensor w_hh, Tensor acts, Tensor cs, "
      "Tensor hs, bool constant) -> Tensor[]");
}

TORCH_LIBRARY_IMPL(lstm_ae, CPU, m) {
  m.impl("lstm_recurrence_forward", &lstm_recurrence_forward);
  m.impl("lstm_recurrence_backward",
         [](const std::optional<at::Tensor>& grad_hs, const std::optional<at::Tensor>& grad_cT, const at::Tensor& w_hh,
            const at::Tensor& acts, const at::Tensor& cs, const at::Tensor& hs, bool constant) {
           return lstm_recurrence_backward(grad_hs.value_or(at::Tensor()), grad_cT.value_or(at::Tensor()), w_hh,
                                           acts, cs, hs, constant);
         });
}
