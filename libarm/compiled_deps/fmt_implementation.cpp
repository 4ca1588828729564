// fmt's implementation, compiled once, for builds that cannot link Debian's libfmt (it is built
// against libstdc++): clang 16 + libc++ with -Dheader_only_deps=true, and scripts/fuzz.sh.
//
// Why not FMT_HEADER_ONLY everywhere: then every file compiles fmt's formatting core again; with
// clang and the sanitizers that was 11 of a 14-second compile of a 50-line file. Without
// FMT_HEADER_ONLY, <fmt/format.h> declares these functions and this file defines them, as the
// compiled library would: the non-template ones come from format-inl.h, the templates the
// headers declare for char are instantiated here (wchar_t is never formatted by libarm).
#include <fmt/format-inl.h>

FMT_BEGIN_NAMESPACE
namespace detail {
template auto dragonbox::to_decimal(float x) noexcept -> dragonbox::decimal_fp<float>;
template auto dragonbox::to_decimal(double x) noexcept -> dragonbox::decimal_fp<double>;
template locale_ref::locale_ref(const std::locale& loc);
template auto locale_ref::get<std::locale>() const -> std::locale;
template auto thousands_sep_impl(locale_ref) -> thousands_sep_result<char>;
template auto decimal_point_impl(locale_ref) -> char;
template void buffer<char>::append(const char*, const char*);
template void vformat_to(buffer<char>&, string_view, basic_format_args<FMT_BUFFER_CONTEXT(char)>,
                         locale_ref);
}  // namespace detail
FMT_END_NAMESPACE
