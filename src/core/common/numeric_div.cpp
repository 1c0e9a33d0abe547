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
	std::string digits; // the value without its point, no leading zeros ("" for zero)
	int dscale = 0;     // digits after the point
	int weight = 0;     // of the first non-zero base-NBASE digit (0 for zero)
	int first_digit = 0;
};

bool Parse(std::string_view text, Decimal &out) {
	size_t pos = 0;
	if (pos < text.size() && (text[pos] == '-' || text[pos] == '+')) {
		out.negative = text[pos] == '-';
		pos++;
	}
	size_t int_start = pos;
	while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
		pos++;
	}
	std::string_view integer = text.substr(int_start, pos - int_start);
	std::string_view fraction;
	if (pos < text.size() && text[pos] == '.') {
		size_t frac_start = ++pos;
		while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
			pos++;
		}
		fraction = text.substr(frac_start, pos - frac_start);
	}
	if (pos != text.size() || (integer.empty() && fraction.empty()) ||
	    fraction.size() > static_cast<size_t>(kMaxDisplayScale)) {
		return false;
	}
	integer.remove_prefix(std::min(integer.find_first_not_of('0'), integer.size()));
	out.dscale = static_cast<int>(fraction.size());
	out.digits = std::string(integer) + std::string(fraction);
	out.digits.erase(0, std::min(out.digits.find_first_not_of('0'), out.digits.size()));
	// Weight and first digit as select_div_scale sees them: groups of four digits either side of the point.
	if (!integer.empty()) {
		out.weight = static_cast<int>((integer.size() - 1) / kDecDigits);
		out.first_digit = std::stoi(std::string(integer.substr(0, (integer.size() - 1) % kDecDigits + 1)));
	} else if (size_t nonzero = fraction.find_first_not_of('0'); nonzero != std::string_view::npos) {
		size_t group = nonzero / kDecDigits;
		std::string digit(fraction.substr(group * kDecDigits, kDecDigits));
		digit.resize(kDecDigits, '0');
		out.weight = -static_cast<int>(group) - 1;
		out.first_digit = std::stoi(digit);
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

// numerator / denominator (decimal digit strings, denominator not zero) rounded half up.
std::string DivideRounded(const std::string &numerator, const std::string &denominator) {
	if (numerator.size() <= kFastDigits && denominator.size() <= kFastDigits) {
		UInt128 n = 0;
		UInt128 d = 0;
		for (char c : numerator) {
			n = n * 10 + static_cast<unsigned>(c - '0');
		}
		for (char c : denominator) {
			d = d * 10 + static_cast<unsigned>(c - '0');
		}
		UInt128 q = n / d;
		UInt128 r = n % d;
		if (r >= d - r) { // 2r >= d without overflowing
			q++;
		}
		std::string out;
		do {
			out.push_back(static_cast<char>('0' + static_cast<int>(q % 10)));
			q /= 10;
		} while (q > 0);
		std::reverse(out.begin(), out.end());
		return out;
	}
	// Long division one decimal digit at a time: at most nine subtractions a digit.
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
	if (y.digits.empty()) {
		return Status::DivisionByZero;
	}
	int rscale = SelectDivScale(x, y);
	// x = X * 10^-sx, y = Y * 10^-sy: the quotient at rscale digits is X * 10^(sy + rscale - sx) / Y,
	// and rscale >= sx.
	std::string numerator = x.digits.empty() ? "0" : x.digits;
	if (!x.digits.empty()) {
		numerator.append(static_cast<size_t>(y.dscale + rscale - x.dscale), '0');
	}
	std::string q = DivideRounded(numerator, y.digits);
	if (q.size() <= static_cast<size_t>(rscale)) {
		q.insert(0, static_cast<size_t>(rscale) + 1 - q.size(), '0');
	}
	if (rscale > 0) {
		q.insert(q.size() - static_cast<size_t>(rscale), ".");
	}
	bool zero = q.find_first_not_of("0.") == std::string::npos;
	out = (x.negative != y.negative && !zero ? "-" : "") + q;
	return Status::Ok;
}

} // namespace duckpipe
