/* number_text.c — integers and doubles as text, for the JSON that is written
 * directly (runs, metric histories) and for PostgreSQL's text parameters.
 *
 * Doubles use Grisu2 (Loitsch, "Printing Floating-Point Numbers Quickly and
 * Accurately", PLDI 2010): exact integer arithmetic on a 64-bit significand
 * against a table of cached powers of ten. Its output always reads back as
 * the same double (nearly always with the fewest digits), at a fraction of
 * the cost of printf("%.17g"), which dominated a 100,000-point history. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "number_text.h"

/* Writes the decimal digits of v at p; returns the length (at most 20). */
static size_t format_uint(char *p, uint64_t v) {
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

size_t mfd_int_text(char out[24], int64_t v) {
    size_t n = 0;
    if (v < 0)
        out[n++] = '-';
    return n + format_uint(out + n, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
}

/* ---- Grisu2 ------------------------------------------------------------------------------- */

typedef struct diy_fp {
    uint64_t f;
    int e;
} diy_fp;

static diy_fp diy_sub(diy_fp x, diy_fp y) {
    return (diy_fp){x.f - y.f, x.e};
}

/* x * y rounded to 64 bits. */
static diy_fp diy_mul(diy_fp x, diy_fp y) {
    unsigned __int128 p = (unsigned __int128)x.f * y.f;
    uint64_t high = (uint64_t)(p >> 64), low = (uint64_t)p;
    return (diy_fp){high + (low >> 63), x.e + y.e + 64};
}

static diy_fp diy_normalize(diy_fp x) {
    while (!(x.f >> 63)) {
        x.f <<= 1;
        x.e--;
    }
    return x;
}

/* 10^k as normalised (f, e), k = -300, -292, ..., 324 (generated exactly). */
static const struct {
    uint64_t f;
    int e, k;
} cached_powers[] = {
    {0xAB70FE17C79AC6CAu, -1060, -300}, {0xFF77B1FCBEBCDC4Fu, -1034, -292},
    {0xBE5691EF416BD60Cu, -1007, -284}, {0x8DD01FAD907FFC3Cu, -980, -276},
    {0xD3515C2831559A83u, -954, -268},  {0x9D71AC8FADA6C9B5u, -927, -260},
    {0xEA9C227723EE8BCBu, -901, -252},  {0xAECC49914078536Du, -874, -244},
    {0x823C12795DB6CE57u, -847, -236},  {0xC21094364DFB5637u, -821, -228},
    {0x9096EA6F3848984Fu, -794, -220},  {0xD77485CB25823AC7u, -768, -212},
    {0xA086CFCD97BF97F4u, -741, -204},  {0xEF340A98172AACE5u, -715, -196},
    {0xB23867FB2A35B28Eu, -688, -188},  {0x84C8D4DFD2C63F3Bu, -661, -180},
    {0xC5DD44271AD3CDBAu, -635, -172},  {0x936B9FCEBB25C996u, -608, -164},
    {0xDBAC6C247D62A584u, -582, -156},  {0xA3AB66580D5FDAF6u, -555, -148},
    {0xF3E2F893DEC3F126u, -529, -140},  {0xB5B5ADA8AAFF80B8u, -502, -132},
    {0x87625F056C7C4A8Bu, -475, -124},  {0xC9BCFF6034C13053u, -449, -116},
    {0x964E858C91BA2655u, -422, -108},  {0xDFF9772470297EBDu, -396, -100},
    {0xA6DFBD9FB8E5B88Fu, -369, -92},   {0xF8A95FCF88747D94u, -343, -84},
    {0xB94470938FA89BCFu, -316, -76},   {0x8A08F0F8BF0F156Bu, -289, -68},
    {0xCDB02555653131B6u, -263, -60},   {0x993FE2C6D07B7FACu, -236, -52},
    {0xE45C10C42A2B3B06u, -210, -44},   {0xAA242499697392D3u, -183, -36},
    {0xFD87B5F28300CA0Eu, -157, -28},   {0xBCE5086492111AEBu, -130, -20},
    {0x8CBCCC096F5088CCu, -103, -12},   {0xD1B71758E219652Cu, -77, -4},
    {0x9C40000000000000u, -50, 4},      {0xE8D4A51000000000u, -24, 12},
    {0xAD78EBC5AC620000u, 3, 20},       {0x813F3978F8940984u, 30, 28},
    {0xC097CE7BC90715B3u, 56, 36},      {0x8F7E32CE7BEA5C70u, 83, 44},
    {0xD5D238A4ABE98068u, 109, 52},     {0x9F4F2726179A2245u, 136, 60},
    {0xED63A231D4C4FB27u, 162, 68},     {0xB0DE65388CC8ADA8u, 189, 76},
    {0x83C7088E1AAB65DBu, 216, 84},     {0xC45D1DF942711D9Au, 242, 92},
    {0x924D692CA61BE758u, 269, 100},    {0xDA01EE641A708DEAu, 295, 108},
    {0xA26DA3999AEF774Au, 322, 116},    {0xF209787BB47D6B85u, 348, 124},
    {0xB454E4A179DD1877u, 375, 132},    {0x865B86925B9BC5C2u, 402, 140},
    {0xC83553C5C8965D3Du, 428, 148},    {0x952AB45CFA97A0B3u, 455, 156},
    {0xDE469FBD99A05FE3u, 481, 164},    {0xA59BC234DB398C25u, 508, 172},
    {0xF6C69A72A3989F5Cu, 534, 180},    {0xB7DCBF5354E9BECEu, 561, 188},
    {0x88FCF317F22241E2u, 588, 196},    {0xCC20CE9BD35C78A5u, 614, 204},
    {0x98165AF37B2153DFu, 641, 212},    {0xE2A0B5DC971F303Au, 667, 220},
    {0xA8D9D1535CE3B396u, 694, 228},    {0xFB9B7CD9A4A7443Cu, 720, 236},
    {0xBB764C4CA7A44410u, 747, 244},    {0x8BAB8EEFB6409C1Au, 774, 252},
    {0xD01FEF10A657842Cu, 800, 260},    {0x9B10A4E5E9913129u, 827, 268},
    {0xE7109BFBA19C0C9Du, 853, 276},    {0xAC2820D9623BF429u, 880, 284},
    {0x80444B5E7AA7CF85u, 907, 292},    {0xBF21E44003ACDD2Du, 933, 300},
    {0x8E679C2F5E44FF8Fu, 960, 308},    {0xD433179D9C8CB841u, 986, 316},
    {0x9E19DB92B4E31BA9u, 1013, 324},
};

enum { CACHED_POWERS_MIN_K = -300, CACHED_POWERS_STEP = 8, ALPHA = -60 };

/* The cached power c = 10^-k such that the exponent of w * c lands in
 * [ALPHA, ALPHA + 28] for w with binary exponent e. */
static diy_fp cached_power(int e, int *k) {
    int f = ALPHA - e - 1;
    int kk = f * 78913 / (1 << 18) + (f > 0); /* ceil(f * log10(2)) */
    int index = (-CACHED_POWERS_MIN_K + kk + (CACHED_POWERS_STEP - 1)) / CACHED_POWERS_STEP;
    *k = cached_powers[index].k;
    return (diy_fp){cached_powers[index].f, cached_powers[index].e};
}

static void round_weed(char *buf, size_t len, uint64_t dist, uint64_t delta, uint64_t rest,
                       uint64_t ten_k) {
    while (rest < dist && delta - rest >= ten_k &&
           (rest + ten_k < dist || dist - rest > rest + ten_k - dist)) {
        buf[len - 1]--;
        rest += ten_k;
    }
}

/* Digits of a value inside (low, high), as close to w as the interval allows. */
static size_t generate_digits(char *buf, int *exponent, diy_fp low, diy_fp w, diy_fp high) {
    uint64_t delta = diy_sub(high, low).f, dist = diy_sub(high, w).f;
    int shift = -high.e;
    uint64_t one = (uint64_t)1 << shift;
    uint32_t p1 = (uint32_t)(high.f >> shift);
    uint64_t p2 = high.f & (one - 1);
    uint32_t pow10 = 1;
    int n = 1;
    while (n < 10 && p1 >= pow10 * 10u) {
        pow10 *= 10;
        n++;
    }
    size_t len = 0;
    while (n > 0) {
        buf[len++] = (char)('0' + p1 / pow10);
        p1 %= pow10;
        n--;
        uint64_t rest = ((uint64_t)p1 << shift) + p2;
        if (rest <= delta) {
            *exponent += n;
            round_weed(buf, len, dist, delta, rest, (uint64_t)pow10 << shift);
            return len;
        }
        pow10 /= 10;
    }
    int m = 0;
    for (;;) {
        p2 *= 10;
        buf[len++] = (char)('0' + (p2 >> shift));
        p2 &= one - 1;
        m++;
        delta *= 10;
        dist *= 10;
        if (p2 <= delta)
            break;
    }
    *exponent -= m;
    round_weed(buf, len, dist, delta, p2, one);
    return len;
}

/* Shortest-ish digits of a positive finite v: v ~ digits * 10^exponent. */
static size_t grisu2(double v, char *buf, int *exponent) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint64_t fraction = bits & (((uint64_t)1 << 52) - 1);
    int biased = (int)(bits >> 52 & 0x7FF);
    diy_fp x =
        biased ? (diy_fp){fraction | (uint64_t)1 << 52, biased - 1075} : (diy_fp){fraction, -1074};
    bool lower_closer = fraction == 0 && biased > 1;
    diy_fp high = diy_normalize((diy_fp){(x.f << 1) + 1, x.e - 1});
    diy_fp low =
        lower_closer ? (diy_fp){(x.f << 2) - 1, x.e - 2} : (diy_fp){(x.f << 1) - 1, x.e - 1};
    low.f <<= low.e - high.e;
    low.e = high.e;
    diy_fp w = diy_normalize(x);
    int k;
    diy_fp c = cached_power(high.e, &k);
    diy_fp w_c = diy_mul(w, c), low_c = diy_mul(low, c), high_c = diy_mul(high, c);
    low_c.f++; /* stay strictly inside the rounding interval */
    high_c.f--;
    *exponent = -k;
    return generate_digits(buf, exponent, low_c, w_c, high_c);
}

/* digits * 10^exponent as JSON: plain notation for decimal exponents in
 * (-5, 16], else d.ddde[+-]xx; integral values keep a ".0". */
static size_t format_digits(char *out, const char *digits, size_t len, int exponent) {
    int n = (int)len + exponent; /* position of the decimal point */
    size_t w = 0;
    if ((int)len <= n && n <= 16) {
        memcpy(out, digits, len);
        memset(out + len, '0', (size_t)(n - (int)len));
        w = (size_t)n;
        out[w++] = '.';
        out[w++] = '0';
    } else if (0 < n && n <= 16) {
        memcpy(out, digits, (size_t)n);
        out[n] = '.';
        memcpy(out + n + 1, digits + n, len - (size_t)n);
        w = len + 1;
    } else if (-5 < n && n <= 0) {
        out[w++] = '0';
        out[w++] = '.';
        memset(out + w, '0', (size_t)-n);
        w += (size_t)-n;
        memcpy(out + w, digits, len);
        w += len;
    } else {
        out[w++] = digits[0];
        if (len > 1) {
            out[w++] = '.';
            memcpy(out + w, digits + 1, len - 1);
            w += len - 1;
        }
        int e = n - 1;
        out[w++] = 'e';
        out[w++] = e < 0 ? '-' : '+';
        w += format_uint(out + w, (uint64_t)(e < 0 ? -e : e));
    }
    return w;
}

size_t mfd_double_text(char out[32], double value) {
    if (value == 0) {
        if (signbit(value)) {
            memcpy(out, "-0.0", 4);
            return 4;
        }
        memcpy(out, "0.0", 3);
        return 3;
    }
    size_t w = 0;
    if (value < 0) {
        out[w++] = '-';
        value = -value;
    }
    char digits[24];
    int exponent;
    size_t len = grisu2(value, digits, &exponent);
    return w + format_digits(out + w, digits, len, exponent);
}

size_t mfd_double_python_repr(char out[40], double v) {
    if (isnan(v) || isinf(v)) {
        const char *word = isnan(v) ? "nan" : v < 0 ? "-inf" : "inf";
        size_t len = strlen(word);
        memcpy(out, word, len);
        return len;
    }
    /* The fewest digits and where the point goes: v = 0.DIGITS x 10^point. */
    char text[33];
    text[mfd_double_text(text, v)] = '\0';
    const char *p = text[0] == '-' ? text + 1 : text;
    char digits[32];
    int n = 0, point = 0, before_point = 0;
    bool seen_point = false, leading = true;
    for (; *p && *p != 'e'; p++) {
        if (*p == '.') {
            seen_point = true;
            continue;
        }
        if (!seen_point)
            before_point++;
        if (leading && *p == '0') {
            if (!seen_point)
                before_point--;
            else
                point--;
            continue;
        }
        leading = false;
        digits[n++] = *p;
    }
    point += before_point + (*p == 'e' ? atoi(p + 1) : 0);
    while (n > 0 && digits[n - 1] == '0')
        n--;
    size_t len = 0;
    if (text[0] == '-')
        out[len++] = '-';
    if (n == 0) {
        memcpy(out + len, "0.0", 3);
        return len + 3;
    }
    if (point > -4 && point <= 16) {
        if (point <= 0) {
            out[len++] = '0';
            out[len++] = '.';
            for (int i = 0; i < -point; i++)
                out[len++] = '0';
            memcpy(out + len, digits, (size_t)n);
            return len + (size_t)n;
        }
        for (int i = 0; i < point || i < n; i++) {
            if (i == point)
                out[len++] = '.';
            out[len++] = i < n ? digits[i] : '0';
        }
        if (point >= n) {
            out[len++] = '.';
            out[len++] = '0';
        }
        return len;
    }
    out[len++] = digits[0];
    if (n > 1) {
        out[len++] = '.';
        memcpy(out + len, digits + 1, (size_t)n - 1);
        len += (size_t)n - 1;
    }
    int exponent = point - 1;
    len += (size_t)snprintf(out + len, 8, "e%c%02d", exponent < 0 ? '-' : '+',
                            exponent < 0 ? -exponent : exponent);
    return len;
}
