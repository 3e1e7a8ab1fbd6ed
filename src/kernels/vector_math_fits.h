// The constants of quasr's vector exp and erfc, shared by the AVX-512 and
// AVX2 versions (vector_math_avx512.h, vector_math_avx2.h) so the two widths
// cannot drift apart; the algorithms are described in vector_math_avx512.h.
#pragma once

#include <cmath>
#include <iterator>  // std::size, for the loops over the tables

namespace quasr::kernels::fits {

// exp: k = round(v log2 e) by adding and subtracting 1.5 * 2^23; r = v - k ln2
// with ln2 split into a few-bit high part and the rest; inputs clamped first.
inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kLn2Hi = 0.693359375f;
inline constexpr float kLn2Lo = -2.12194440e-4f;
inline constexpr float kRoundToInteger = 12582912.0f;
inline constexpr float kExpInputMin = -104.0f;
inline constexpr float kExpInputMax = 89.0f;
// e^r on |r| <= ln2/2, highest degree first (Horner).
inline constexpr float kExpPolynomial[] = {
    8.375128731e-3f, 4.191752896e-2f, 1.666641533e-1f, 4.999887049e-1f, 1.0f, 1.000000119f};

// erfc(|x|/√2)/2 = t exp(-x²/2 + P(t)), t = 1 / (1 + |x|/(2√2)): P highest
// degree first; its constant term carries the 1/2 as -ln 2.
inline constexpr float kErfcScale = float(M_SQRT1_2 / 2);
inline constexpr float kErfcPolynomial[] = {
    0.17087277f,  -0.82215223f, 1.48851587f, -1.13520398f, 0.27886807f,
    -0.18628806f, 0.09678418f,  0.37409196f, 1.00002368f,  float(-1.26551223 - M_LN2)};

}  // namespace quasr::kernels::fits
