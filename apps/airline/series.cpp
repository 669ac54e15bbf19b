// apps/airline/series.cpp: reading the monthly CSV (contract in series.h) on data/csv.h's parser.
#include "apps/airline/series.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

#include "data/csv.h"
#include "tensor/error.h"

namespace loom::airline {
namespace {

std::string lower(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// "YYYY-MM" -> months since year 0, or -1 when malformed.
int64_t month_index(const std::string& m) {
  if (m.size() != 7 || m[4] != '-') return -1;
  for (int i : {0, 1, 2, 3, 5, 6})
    if (!std::isdigit(static_cast<unsigned char>(m[static_cast<size_t>(i)]))) return -1;
  const int64_t year = std::atoi(m.substr(0, 4).c_str()), month = std::atoi(m.substr(5).c_str());
  if (month < 1 || month > 12) return -1;
  return year * 12 + month - 1;
}

std::string month_name(int64_t index) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld", static_cast<long long>(index / 12),
                static_cast<long long>(index % 12 + 1));
  return buf;
}

}  // namespace

MonthlySeries parse_monthly_csv(std::string_view data, const std::string& source, int64_t min_rows,
                                const std::string& why) {
  data::CsvParser parser(data, source);
  std::vector<std::string> f;
  int64_t line = 0;
  LOOM_CHECK(parser.next(f, &line), source, ": the file is empty (expected the header ",
             "'month,passengers')");
  LOOM_CHECK(f.size() == 2 && lower(f[0]) == "month" && lower(f[1]) == "passengers", source, ":",
             line, ": the header must be 'month,passengers', got '", f[0],
             f.size() > 1 ? "," + f[1] : std::string(), f.size() > 2 ? ",...'" : "'");
  MonthlySeries s;
  s.source = source;
  int64_t previous = -1;
  while (parser.next(f, &line)) {
    if (f.size() == 1 && f[0].empty()) continue;  // a blank line
    LOOM_CHECK(f.size() == 2, source, ":", line, ": expected 2 fields (month,passengers), got ",
               f.size());
    const int64_t m = month_index(f[0]);
    LOOM_CHECK(m >= 0, source, ":", line, ": '", f[0], "' is not a month (YYYY-MM)");
    LOOM_CHECK(previous < 0 || m == previous + 1, source, ":", line, ": month ", f[0],
               " does not follow ", month_name(previous),
               m > previous + 1 ? " (" + month_name(previous + 1) + " is missing)"
                                : std::string(" (out of order or repeated)"));
    char* end = nullptr;
    const double v = std::strtod(f[1].c_str(), &end);
    LOOM_CHECK(!f[1].empty() && end == f[1].c_str() + f[1].size() && std::isfinite(v) && v > 0,
               source, ":", line, ": passengers '", f[1], "' is not a positive number");
    s.months.push_back(f[0]);
    s.values.push_back(v);
    previous = m;
  }
  LOOM_CHECK(s.size() >= min_rows, source, ":", line, ": ", s.size(), " months, need at least ",
             min_rows, " (", why, ")");
  return s;
}

MonthlySeries read_monthly_csv(const std::string& path, int64_t min_rows, const std::string& why) {
  const std::string text = data::read_text_file(path, "--data");
  return parse_monthly_csv(text, path, min_rows, why);
}

}  // namespace loom::airline
