//! `Top::mix` in AVX-512 and in AVX2, for x86-64 processors that have them
//! (checked at run time): the same candidates, keys and sorting networks as the
//! portable version, eight keys in one or two registers instead of sixteen scalar
//! compare-exchanges, and the same arithmetic (separate multiplies and adds in
//! `f64`, one rounding to `f32`), so all three give the same bits. A unit test
//! runs each on random mixes against the reference merge.

use std::arch::x86_64::*;

use super::Top;

/// Whether this processor runs [`mix`] (the answer is cached by the standard
/// library).
#[inline]
pub(super) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

/// One stage of compare-exchanges on four 64-bit keys, as signed integers: each
/// lane meets the lane that `PARTNER` (a `_mm256_permute4x64_epi64` pattern)
/// brings to it, and the 32-bit halves set in `SMALLER` (a `_mm256_blend_epi32`
/// mask) keep the smaller key of their pair, the others the larger.
#[inline]
#[target_feature(enable = "avx2")]
fn exchange<const PARTNER: i32, const SMALLER: i32>(v: __m256i) -> __m256i {
    let other = _mm256_permute4x64_epi64::<PARTNER>(v);
    let greater = _mm256_cmpgt_epi64(v, other);
    let max = _mm256_blendv_epi8(other, v, greater);
    let min = _mm256_blendv_epi8(v, other, greater);
    _mm256_blend_epi32::<SMALLER>(max, min)
}

/// Lanes (0, 1) and (2, 3): the larger to lanes 0 and 2.
#[inline]
#[target_feature(enable = "avx2")]
fn pairs(v: __m256i) -> __m256i {
    exchange::<0b10_11_00_01, 0b1100_1100>(v)
}

/// Sorts the four 64-bit lanes of `v`, largest first, comparing them as signed
/// integers: three stages of compare-exchanges across lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn sort4_descending(v: __m256i) -> __m256i {
    // Then (0, 3) and (1, 2): the two larger to lanes 0 and 1 (a bitonic merge).
    pairs(exchange::<0b00_01_10_11, 0b1111_0000>(pairs(v)))
}

/// The keys of four candidates (see `Top::mix`): the part rounded to `f32`, its
/// bits above the inverted seed; 0 where that part is not positive.
#[inline]
#[target_feature(enable = "avx2")]
fn keys(seeds: __m128i, parts: __m256d) -> __m256i {
    let stored = _mm256_cvtpd_ps(parts);
    let positive = _mm_castps_si128(_mm_cmpgt_ps(stored, _mm_setzero_ps()));
    let bits = _mm_and_si128(_mm_castps_si128(stored), positive);
    let inverted = _mm_andnot_si128(seeds, positive);
    _mm256_or_si256(
        _mm256_slli_epi64::<32>(_mm256_cvtepu32_epi64(bits)),
        _mm256_cvtepu32_epi64(inverted),
    )
}

/// `this * wa + other * wb`, as `Top::mix`.
///
/// # Safety
/// The processor must support AVX2 ([`available`]).
#[inline]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn mix(this: &Top<f32>, wa: f64, other: &Top<f32>, wb: f64) -> Top<f32> {
    // SAFETY: each load reads four 4-byte values from an array of four.
    let (sa, sb, pa, pb) = unsafe {
        (
            _mm_loadu_si128(this.seeds.as_ptr().cast()),
            _mm_loadu_si128(other.seeds.as_ptr().cast()),
            _mm_loadu_ps(this.parts.as_ptr()),
            _mm_loadu_ps(other.parts.as_ptr()),
        )
    };
    let pa = _mm256_mul_pd(_mm256_cvtps_pd(pa), _mm256_set1_pd(wa));
    let pb = _mm256_mul_pd(_mm256_cvtps_pd(pb), _mm256_set1_pd(wb));
    // Theirs: for each of this side's seeds, the other side's part of the same seed,
    // or +0; matched: the other side's seeds that this side names. A seed is named
    // at most once on each side (an empty slot may match several, all with parts
    // of +0), so at most one term of each sum is not +0: the portable version adds
    // them up in order, and the same bits come from a bitwise or, in a tree that
    // keeps the chain of dependent steps short.
    macro_rules! step {
        ($lane:literal) => {{
            const ALL: i32 = $lane * 0b01_01_01_01;
            let same = _mm_cmpeq_epi32(sa, _mm_shuffle_epi32::<ALL>(sb));
            let part = _mm256_permute4x64_pd::<ALL>(pb);
            let same_wide = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(same));
            let named = _mm_cmpeq_epi32(sb, _mm_shuffle_epi32::<ALL>(sa));
            (_mm256_and_pd(same_wide, part), named)
        }};
    }
    let (t0, n0) = step!(0);
    let (t1, n1) = step!(1);
    let (t2, n2) = step!(2);
    let (t3, n3) = step!(3);
    let theirs = _mm256_or_pd(_mm256_or_pd(t0, t1), _mm256_or_pd(t2, t3));
    let matched = _mm_or_si128(_mm_or_si128(n0, n1), _mm_or_si128(n2, n3));
    let a = keys(sa, _mm256_add_pd(pa, theirs));
    let unmatched = _mm256_andnot_pd(_mm256_castsi256_pd(_mm256_cvtepi32_epi64(matched)), pb);
    let b = keys(sb, unmatched);
    // Both halves sorted; the larger of a[i] and b[3 - i] are the 4 largest.
    let a = sort4_descending(a);
    let b = _mm256_permute4x64_epi64::<0b00_01_10_11>(sort4_descending(b));
    let best = _mm256_blendv_epi8(b, a, _mm256_cmpgt_epi64(a, b));
    // A bitonic sequence: two stages sort it, largest first, no candidate (0) last:
    // (0, 2) and (1, 3), then pairs.
    let sorted = pairs(exchange::<0b01_00_11_10, 0b1111_0000>(best));
    // Low halves (inverted seeds) to lanes 0-3, high halves (parts) to 4-7: the
    // layout of a `Top<f32>`, seeds then parts.
    let halves = _mm256_permutevar8x32_epi32(sorted, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7));
    let out = _mm256_xor_si256(halves, _mm256_setr_epi32(-1, -1, -1, -1, 0, 0, 0, 0));
    let mut top = Top::<f32>::default();
    // SAFETY: `Top<f32>` is `repr(C)`, four `u32` seeds then four `f32` parts: 32
    // bytes with no padding, every bit pattern valid.
    unsafe { _mm256_storeu_si256(std::ptr::from_mut(&mut top).cast(), out) };
    top
}

/// Whether this processor runs [`mix512`] (the answers are cached by the standard
/// library).
#[inline]
pub(super) fn avx512_available() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512vl")
}

/// One stage of compare-exchanges on eight 64-bit keys (as unsigned integers):
/// each lane meets the lane `PARTNER` names, and the lanes set in `UPPER` keep
/// the larger key of their pair.
#[inline]
#[target_feature(enable = "avx512f,avx512vl")]
fn exchange8<const UPPER: u8>(v: __m512i, partner: __m512i) -> __m512i {
    let other = _mm512_permutexvar_epi64(partner, v);
    _mm512_mask_blend_epi64(
        UPPER,
        _mm512_min_epu64(v, other),
        _mm512_max_epu64(v, other),
    )
}

/// `this * wa + other * wb`, as `Top::mix`, in AVX-512: the eight candidates in
/// one register, the sixteen seed comparisons in one instruction, and sorting
/// networks on unsigned 64-bit minimum and maximum (no compare-and-blend, no sign
/// flips). The same arithmetic as the portable version, so the same bits.
///
/// Always inlined into its caller: the compiler does not inline a function
/// compiled for other features, and this one is too large for it to choose to.
///
/// # Safety
/// Only from code compiled for AVX-512F and AVX-512VL (elsewhere its intrinsics
/// become calls), on a processor that has them ([`avx512_available`]).
#[inline(always)]
pub(super) unsafe fn mix512(this: &Top<f32>, wa: f64, other: &Top<f32>, wb: f64) -> Top<f32> {
    // SAFETY: the caller runs this in code compiled for AVX-512F and AVX-512VL;
    // each load reads, and each store writes, four 4-byte values of an array of
    // four.
    unsafe {
        let (sa, sb, pa, pb) = (
            _mm_loadu_si128(this.seeds.as_ptr().cast()),
            _mm_loadu_si128(other.seeds.as_ptr().cast()),
            _mm_loadu_ps(this.parts.as_ptr()),
            _mm_loadu_ps(other.parts.as_ptr()),
        );
        // Candidates: this side's in lanes 0-3, the other side's in 4-7.
        let weights = _mm512_insertf64x4::<1>(_mm512_set1_pd(wa), _mm256_set1_pd(wb));
        let parts = _mm512_mul_pd(_mm512_cvtps_pd(_mm256_set_m128(pb, pa)), weights);
        // Bit 4j + i: this side's seed i is the other side's seed j.
        let ours = _mm512_broadcast_i32x4(sa);
        let spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
        let theirs = _mm512_permutexvar_epi32(spread, _mm512_castsi128_si512(sb));
        let same = _mm512_cmpeq_epi32_mask(ours, theirs);
        // For each of this side's seeds, the other side's part of it, or +0: at most
        // one term is not +0 (see `mix`), so an or of them all is their sum.
        let low = _mm512_maskz_permutexvar_pd(
            same as u8,
            _mm512_setr_epi64(4, 4, 4, 4, 5, 5, 5, 5),
            parts,
        );
        let high = _mm512_maskz_permutexvar_pd(
            (same >> 8) as u8,
            _mm512_setr_epi64(6, 6, 6, 6, 7, 7, 7, 7),
            parts,
        );
        let either = _mm512_or_si512(_mm512_castpd_si512(low), _mm512_castpd_si512(high));
        let either = _mm256_or_si256(
            _mm512_castsi512_si256(either),
            _mm512_extracti64x4_epi64::<1>(either),
        );
        let candidates = _mm512_mask_add_pd(
            parts,
            0x0F,
            parts,
            _mm512_castpd256_pd512(_mm256_castsi256_pd(either)),
        );
        // The other side's seeds that this side names drop out (their part went to
        // this side's lane).
        let any = u32::from(same);
        let any = (any | any >> 1 | any >> 2 | any >> 3) & 0x1111;
        let matched = (any & 1) | (any >> 3 & 2) | (any >> 6 & 4) | (any >> 9 & 8);
        let candidates = _mm512_maskz_mov_pd(0x0F | ((!matched & 0xF) << 4) as u8, candidates);
        // Keys: the part rounded to `f32`, its bits above the inverted seed; 0 where
        // that part is not positive.
        let stored = _mm512_cvtpd_ps(candidates);
        let positive = _mm256_cmp_ps_mask::<_CMP_GT_OQ>(stored, _mm256_setzero_ps());
        let inverted = _mm256_xor_si256(_mm256_set_m128i(sb, sa), _mm256_set1_epi32(-1));
        let keys = _mm512_maskz_or_epi64(
            positive,
            _mm512_slli_epi64::<32>(_mm512_cvtepu32_epi64(_mm256_castps_si256(stored))),
            _mm512_cvtepu32_epi64(inverted),
        );
        // Sorted, largest first (a bitonic network of six stages); the first four are
        // the largest.
        let flip1 = _mm512_setr_epi64(1, 0, 3, 2, 5, 4, 7, 6);
        let keys = exchange8::<0x55>(keys, flip1);
        let keys = exchange8::<0x33>(keys, _mm512_setr_epi64(3, 2, 1, 0, 7, 6, 5, 4));
        let keys = exchange8::<0x55>(keys, flip1);
        let keys = exchange8::<0x0F>(keys, _mm512_setr_epi64(7, 6, 5, 4, 3, 2, 1, 0));
        let keys = exchange8::<0x33>(keys, _mm512_setr_epi64(2, 3, 0, 1, 6, 7, 4, 5));
        let keys = exchange8::<0x55>(keys, flip1);
        // The first four: low halves the inverted seeds, high halves the parts.
        let best = _mm512_castsi512_si256(keys);
        let seeds = _mm_xor_si128(_mm256_cvtepi64_epi32(best), _mm_set1_epi32(-1));
        let parts = _mm256_cvtepi64_epi32(_mm256_srli_epi64::<32>(best));
        let mut top = Top::<f32>::default();
        _mm_storeu_si128(top.seeds.as_mut_ptr().cast(), seeds);
        _mm_storeu_si128(top.parts.as_mut_ptr().cast(), parts);
        top
    }
}
