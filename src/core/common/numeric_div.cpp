#include "core/common/numeric_div.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace duckpipe {

namespace {

__extension__ typedef unsigned __int128 UInt128;

// PostgreSQL's numeric constants (numeric.c): digits of base NBASE = 10^DEC_DIGITS.
constexpr int kDecDigits = 4;
constexpr int kMinSigDigits = 16;
constexpr int kMaxDisplayScale = 1000;
// Decimal digits an unsigned __int128 always holds.
constexpr size_t kFastDigits = 38;

struct Decimal {
	bool negative = false;
	std::string_view integer;  // without leading zeros
	std::string_view fraction; // digits after the point
	size_t digits = 0;         // significant digits (0 for zero)
	int dscale = 0;
	int weight = 0; // of the first non-zero base-NBASE digit (0 for zero)
	int first_digit = 0;

	// The value without its point, no leading zeros ("" for zero).
	std::string Digits() const {
		std::string out = std::string(integer) + std::string(fraction);
		out.erase(0, out.size() - digits);
		return out;
	}
};

bool IsDigit(char c) {
	return c >= '0' && c <= '9';
}

bool Parse(std::string_view text, Decimal &out) {
	size_t pos = 0;
	if (pos < text.size() && (text[pos] == '-' || text[pos] == '+')) {
		out.negative = text[pos] == '-';
		pos++;
	}
	size_t int_start = pos;
	while (pos < text.size() && IsDigit(text[pos])) {
		pos++;
	}
	std::string_view integer = text.substr(int_start, pos - int_start);
	std::string_view fraction;
	if (pos < text.size() && text[pos] == '.') {
		size_t frac_start = ++pos;
		while (pos < text.size() && IsDigit(text[pos])) {
			pos++;
		}
		fraction = text.substr(frac_start, pos - frac_start);
	}
	if (pos != text.size() || (integer.empty() && fraction.empty()) ||
	    fraction.size() > static_cast<size_t>(kMaxDisplayScale)) {
		return false;
	}
	integer.remove_prefix(std::min(integer.find_first_not_of('0'), integer.size()));
	out.integer = integer;
	out.fraction = fraction;
	out.dscale = static_cast<int>(fraction.size());
	// Weight and first digit as select_div_scale sees them: groups of four digits either side of the point.
	if (!integer.empty()) {
		out.digits = integer.size() + fraction.size();
		out.weight = static_cast<int>((integer.size() - 1) / kDecDigits);
		for (size_t i = 0; i < (integer.size() - 1) % kDecDigits + 1; i++) {
			out.first_digit = out.first_digit * 10 + (integer[i] - '0');
		}
	} else if (size_t nonzero = fraction.find_first_not_of('0'); nonzero != std::string_view::npos) {
		out.digits = fraction.size() - nonzero;
		size_t group = nonzero / kDecDigits;
		out.weight = -static_cast<int>(group) - 1;
		for (size_t i = group * kDecDigits; i < (group + 1) * kDecDigits; i++) {
			out.first_digit = out.first_digit * 10 + (i < fraction.size() ? fraction[i] - '0' : 0);
		}
	}
	return true;
}

int SelectDivScale(const Decimal &a, const Decimal &b) {
	int qweight = a.weight - b.weight;
	if (a.first_digit <= b.first_digit) {
		qweight--; // equal first digits: assume a < b, as PostgreSQL does
	}
	int rscale = kMinSigDigits - qweight * kDecDigits;
	rscale = std::max({rscale, a.dscale, b.dscale, 0});
	return std::min(rscale, kMaxDisplayScale);
}

// A non-negative integer in base 10^9 limbs, least significant first, for quotients beyond 38 digits.
class Big {
public:
	explicit Big(std::string_view digits = "") {
		for (char c : digits) {
			MulAdd(10, static_cast<uint32_t>(c - '0'));
		}
	}
	void MulAdd(uint32_t mul, uint32_t add) {
		uint64_t carry = add;
		for (auto &limb : limbs_) {
			uint64_t v = static_cast<uint64_t>(limb) * mul + carry;
			limb = static_cast<uint32_t>(v % kBase);
			carry = v / kBase;
		}
		if (carry) {
			limbs_.push_back(static_cast<uint32_t>(carry));
		}
	}
	int Compare(const Big &other) const {
		if (limbs_.size() != other.limbs_.size()) {
			return limbs_.size() < other.limbs_.size() ? -1 : 1;
		}
		for (size_t i = limbs_.size(); i-- > 0;) {
			if (limbs_[i] != other.limbs_[i]) {
				return limbs_[i] < other.limbs_[i] ? -1 : 1;
			}
		}
		return 0;
	}
	// *this -= other, where other <= *this.
	void Subtract(const Big &other) {
		int64_t borrow = 0;
		for (size_t i = 0; i < limbs_.size(); i++) {
			int64_t v = static_cast<int64_t>(limbs_[i]) - borrow - (i < other.limbs_.size() ? other.limbs_[i] : 0);
			borrow = v < 0 ? 1 : 0;
			limbs_[i] = static_cast<uint32_t>(v + borrow * static_cast<int64_t>(kBase));
		}
		while (!limbs_.empty() && limbs_.back() == 0) {
			limbs_.pop_back();
		}
	}

private:
	static constexpr uint64_t kBase = 1000000000;
	std::vector<uint32_t> limbs_;
};

// Adds one to a string of decimal digits.
void Increment(std::string &digits) {
	for (size_t i = digits.size(); i-- > 0;) {
		if (digits[i] != '9') {
			digits[i]++;
			return;
		}
		digits[i] = '0';
	}
	digits.insert(digits.begin(), '1');
}

// numerator / denominator (decimal digit strings, denominator not zero) rounded half up, by long
// division one decimal digit at a time (at most nine subtractions a digit): quotients past 38 digits.
std::string DivideLong(const std::string &numerator, const std::string &denominator) {
	Big d(denominator);
	Big r;
	std::string q;
	for (char c : numerator) {
		r.MulAdd(10, static_cast<uint32_t>(c - '0'));
		char digit = '0';
		while (r.Compare(d) >= 0) {
			r.Subtract(d);
			digit++;
		}
		q.push_back(digit);
	}
	r.MulAdd(2, 0);
	if (r.Compare(d) >= 0) {
		Increment(q);
	}
	q.erase(0, std::min(q.find_first_not_of('0'), q.size() - 1));
	return q;
}

} // namespace

std::optional<int> NumericDiv::ResultScale(std::string_view a, std::string_view b) {
	Decimal x;
	Decimal y;
	if (!Parse(a, x) || !Parse(b, y)) {
		return std::nullopt;
	}
	return SelectDivScale(x, y);
}

NumericDiv::Status NumericDiv::Divide(std::string_view a, std::string_view b, std::string &out) {
	Decimal x;
	Decimal y;
	if (!Parse(a, x) || !Parse(b, y)) {
		return Status::InvalidInput;
	}
	if (y.digits == 0) {
		return Status::DivisionByZero;
	}
	int rscale = SelectDivScale(x, y);
	// x = X * 10^-sx, y = Y * 10^-sy: the quotient at rscale digits is X * 10^(sy + rscale - sx) / Y,
	// and rscale >= sx.
	size_t shift = x.digits == 0 ? 0 : static_cast<size_t>(y.dscale + rscale - x.dscale);
	char buf[48];
	std::string long_quotient;
	std::string_view q;
	if (x.digits + shift <= kFastDigits && y.digits <= kFastDigits) {
		UInt128 n = 0;
		UInt128 d = 0;
		for (std::string_view part : {x.integer, x.fraction}) {
			for (char c : part) {
				n = n * 10 + static_cast<unsigned>(c - '0');
			}
		}
		for (size_t i = 0; i < shift; i++) {
			n *= 10;
		}
		for (std::string_view part : {y.integer, y.fraction}) {
			for (char c : part) {
				d = d * 10 + static_cast<unsigned>(c - '0');
			}
		}
		UInt128 quotient = 0;
		UInt128 r = 0;
		if (n <= UINT64_MAX && d <= UINT64_MAX) {
			quotient = static_cast<uint64_t>(n) / static_cast<uint64_t>(d);
			r = static_cast<uint64_t>(n) % static_cast<uint64_t>(d);
		} else {
			quotient = n / d;
			r = n - quotient * d;
		}
		if (r >= d - r) { // 2r >= d without overflowing
			quotient++;
		}
		// Printed 19 digits at a time: a 128-bit division by 10 is a library call, a 64-bit one is not.
		constexpr uint64_t kTen19 = 10000000000000000000ULL;
		char *end = buf + sizeof(buf);
		char *p = end;
		while (quotient >= kTen19) {
			auto low = static_cast<uint64_t>(quotient % kTen19);
			quotient /= kTen19;
			for (int i = 0; i < 19; i++, low /= 10) {
				*--p = static_cast<char>('0' + low % 10);
			}
		}
		auto high = static_cast<uint64_t>(quotient);
		do {
			*--p = static_cast<char>('0' + high % 10);
			high /= 10;
		} while (high > 0);
		q = std::string_view(p, static_cast<size_t>(end - p));
	} else {
		std::string numerator = x.digits == 0 ? "0" : x.Digits();
		numerator.append(shift, '0');
		long_quotient = DivideLong(numerator, y.Digits());
		q = long_quotient;
	}
	bool zero = q.find_first_not_of('0') == std::string_view::npos;
	out.clear();
	if (x.negative != y.negative && !zero) {
		out.push_back('-');
	}
	size_t scale = static_cast<size_t>(rscale);
	if (q.size() <= scale) {
		out.push_back('0');
		if (scale > 0) {
			out.push_back('.');
		}
		out.append(scale - q.size(), '0');
		out.append(q);
	} else {
		out.append(q.substr(0, q.size() - scale));
		if (scale > 0) {
			out.push_back('.');
			out.append(q.substr(q.size() - scale));
		}
	}
	return Status::Ok;
}

} // namespace duckpipe
