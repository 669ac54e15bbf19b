// tests/docs/doc_samples.cpp: compiles every ```cpp block of a Markdown page, so doc samples
// cannot drift from the code. One run checks one page and exits non-zero if a sample fails.
//
//   doc_samples --root SRC --work DIR --compiler CXX --flags RSP [--skip PAGE[#HEADING]]... PAGE
//
// The ```cpp blocks of PAGE (a path relative to SRC) are written, in order, into one generated
// translation unit DIR/<page>.cpp, each after a `#line` directive so that compiler errors name
// the page and its line, and the unit is compiled with `CXX @RSP -fsyntax-only`. docs/README.md
// says how a block is wrapped and what it sees. A page is also refused when a fence names no
// language or is never closed. A --skip names a page, or a page and the start of a heading, whose
// blocks are neither compiled nor checked; a --skip that matches no block is an error, so the
// list in tests/docs/CMakeLists.txt cannot outlive the sections it names.
// Leaves out: indented (unfenced) code blocks, ~~~ fences, checking other languages.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>  // WIFEXITED and friends: std::system returns a wait status

namespace fs = std::filesystem;

namespace {

struct Block {
  int fence_line = 0;    // 1-based line of the opening fence
  std::string language;  // first word of the info string; "" for a bare fence
  std::string heading;   // text of the nearest heading above, without the leading #s
  bool file_scope = false;
  std::vector<std::string> lines;
};

struct Options {
  fs::path root, work, compiler, flags;
  std::vector<std::string> skips;  // "PAGE" or "PAGE#HEADING"
  std::string page;                // relative to root, '/' separated
};

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "doc_samples: " << why << "\nusage: doc_samples --root SRC --work DIR --compiler CXX"
            << " --flags RSP [--skip PAGE[#HEADING]]... PAGE\n";
  std::exit(2);
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--root" && has_value)
      o.root = argv[++i];
    else if (arg == "--work" && has_value)
      o.work = argv[++i];
    else if (arg == "--compiler" && has_value)
      o.compiler = argv[++i];
    else if (arg == "--flags" && has_value)
      o.flags = argv[++i];
    else if (arg == "--skip" && has_value)
      o.skips.push_back(argv[++i]);
    else if (!arg.empty() && arg[0] != '-' && o.page.empty())
      o.page = arg;
    else
      usage("unexpected argument '" + arg + "'");
  }
  if (o.root.empty() || o.work.empty() || o.compiler.empty() || o.flags.empty() || o.page.empty())
    usage("missing argument");
  return o;
}

std::string trim_left(const std::string& s) {
  const size_t i = s.find_first_not_of(" \t");
  return i == std::string::npos ? "" : s.substr(i);
}

bool is_fence(const std::string& line) {
  return trim_left(line).rfind("```", 0) == 0;
}

// "## 5b. The persistent LSTM" -> "5b. The persistent LSTM"; "" when the line is no heading.
std::string heading_text(const std::string& line) {
  size_t level = 0;
  while (level < line.size() && line[level] == '#')
    ++level;
  if (level == 0 || level > 6 || level >= line.size() || line[level] != ' ') return "";
  return trim_left(line.substr(level));
}

// Splits a page into its fenced blocks. Exits with file:line on a fence that is never closed.
std::vector<Block> read_blocks(const fs::path& file, const std::string& page) {
  std::ifstream in(file);
  if (!in) {
    std::cerr << page << ": cannot read " << file << "\n";
    std::exit(1);
  }
  std::vector<Block> blocks;
  std::string line, previous, heading;
  bool open = false;  // inside blocks.back()
  for (int number = 1; std::getline(in, line); ++number) {
    if (open) {
      if (is_fence(line) && trim_left(line).find_first_not_of('`') == std::string::npos)
        open = false;
      else
        blocks.back().lines.push_back(line);
    } else if (is_fence(line)) {
      Block b;
      b.fence_line = number;
      std::istringstream info(trim_left(line).substr(3));
      info >> b.language;
      b.heading = heading;
      b.file_scope = trim_left(previous).rfind("<!-- sample: file scope -->", 0) == 0;
      blocks.push_back(b);
      open = true;
    } else if (!heading_text(line).empty()) {
      heading = heading_text(line);
    }
    previous = line;
  }
  if (open) {
    std::cerr << page << ":" << blocks.back().fence_line << ": error: this fence is never closed\n";
    std::exit(1);
  }
  return blocks;
}

bool is_cpp(const std::string& language) {
  static const std::set<std::string> names = {"cpp", "c++", "cxx", "cc"};
  return names.count(language) > 0;
}

// The --skip entry that covers a block, or "" if none does. "PAGE#TEXT" covers the blocks under
// a heading that starts with TEXT.
std::string skip_for(const Options& o, const Block& b) {
  const std::string prefix = o.page + "#";
  for (const std::string& s : o.skips) {
    if (s == o.page) return s;
    if (s.rfind(prefix, 0) == 0 && b.heading.rfind(s.substr(prefix.size()), 0) == 0) return s;
  }
  return "";
}

// Writes one block: statements into a function of their own (in a namespace of their own),
// file-scope blocks as they are, so that a later block of the page can use what they declare.
void write_block(std::ostream& out, const std::string& page, const Block& b) {
  const std::string name = "doc_sample_line_" + std::to_string(b.fence_line);
  if (!b.file_scope) out << "namespace " << name << " {\n[[maybe_unused]] static auto sample() {\n";
  out << "#line " << b.fence_line + 1 << " \"" << page << "\"\n";
  for (const std::string& l : b.lines)
    out << l << "\n";
  if (!b.file_scope) out << "}\n}  // namespace " << name << "\n";
}

std::string quoted(const fs::path& p) {
  std::string out = "'";
  for (char c : p.string())
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The page's context header: tests/docs/context/<page without .md>.h, if there is one.
fs::path context_header(const Options& o) {
  fs::path p = o.root / "tests/docs/context" / o.page;
  p.replace_extension(".h");
  return fs::exists(p) ? p : fs::path();
}

// Writes the page's samples into one translation unit and compiles it; true when it compiles.
bool compile_samples(const Options& o, const std::vector<const Block*>& samples) {
  fs::path unit = o.work / o.page;
  unit.replace_extension(".cpp");
  std::error_code ignored;  // two pages may create the same folder at once; the open below checks
  fs::create_directories(unit.parent_path(), ignored);
  {
    std::ofstream out(unit);
    if (!out) {
      std::cerr << o.page << ": cannot write " << unit << "\n";
      return false;
    }
    out << "// Generated by doc_samples from " << o.page << "; do not edit.\n"
        << "#include \"tests/docs/sample_prelude.h\"\n";
    const fs::path context = context_header(o);
    if (!context.empty())
      out << "#include \"" << fs::relative(context, o.root).generic_string() << "\"\n";
    for (const Block* b : samples)
      write_block(out, o.page, *b);
  }
  const std::string command = quoted(o.compiler) + " @" + quoted(o.flags) + " -I" + quoted(o.root) +
                              " -fsyntax-only " + quoted(unit) + " 2>&1";
  const int status = std::system(command.c_str());
  const bool ok = status == 0;
  std::cout << o.page << ": " << samples.size() << " C++ sample(s) at lines";
  for (const Block* b : samples)
    std::cout << " " << b->fence_line;
  std::cout << (ok ? ": compile\n" : ": do NOT compile (errors above)\n");
  // A compiler that did not run, or was killed (out of memory, say), is no verdict on the page.
  if (!ok && (!WIFEXITED(status) || WEXITSTATUS(status) != 1))
    std::cout << o.page << ": the compiler did not finish normally (status " << status
              << "; exit code " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1) << "; signal "
              << (WIFSIGNALED(status) ? WTERMSIG(status) : 0) << "): " << command << "\n";
  return ok;
}

int check_page(const Options& o) {
  const std::vector<Block> blocks = read_blocks(o.root / o.page, o.page);
  std::set<std::string> used_skips;
  std::vector<const Block*> samples;
  int errors = 0;
  for (const Block& b : blocks) {
    const std::string skip = skip_for(o, b);
    if (!skip.empty()) {
      used_skips.insert(skip);
      std::cout << o.page << ":" << b.fence_line << ": skipped (" << skip << ")\n";
    } else if (b.language.empty()) {
      std::cerr << o.page << ":" << b.fence_line << ": error: a fence without a language; name"
                << " it: ```cpp (compiled), ```text (output, diagrams, pseudo-code), ```sh ...\n";
      ++errors;
    } else if (is_cpp(b.language)) {
      samples.push_back(&b);
    }
  }
  for (const std::string& s : o.skips) {
    const bool this_page = s == o.page || s.rfind(o.page + "#", 0) == 0;
    if (this_page && used_skips.count(s) == 0) {
      std::cerr << o.page << ": error: --skip '" << s << "' matches no block: remove it\n";
      ++errors;
    }
  }
  if (samples.empty()) {
    std::cout << o.page << ": no C++ samples\n";
    return errors == 0 ? 0 : 1;
  }
  if (!compile_samples(o, samples)) ++errors;
  return errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_args(argc, argv);
  return check_page(o);
}
