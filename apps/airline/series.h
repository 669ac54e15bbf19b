// apps/airline/series.h: the monthly series the airline program reads: a CSV with the header
// `month,passengers`, one row per month (YYYY-MM, consecutive, none missing), positive values.
//
// Every problem is a loom::Error naming the file and the 1-based line: a wrong header, a month
// that is malformed or not the one after the previous row (a missing month), a value that is not
// a positive finite number, or fewer rows than the caller needs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace loom::airline {

struct MonthlySeries {
  std::string source;               // the file it came from
  std::vector<std::string> months;  // "1949-01", ...
  std::vector<double> values;       // one per month, > 0
  int64_t size() const { return static_cast<int64_t>(values.size()); }
};

// `min_rows`: the fewest months the command can work with (the error says why it needs them).
MonthlySeries read_monthly_csv(const std::string& path, int64_t min_rows, const std::string& why);
MonthlySeries parse_monthly_csv(std::string_view data, const std::string& source, int64_t min_rows,
                                const std::string& why);

}  // namespace loom::airline
