//! Exact money: [`Currency`] (ISO 4217 code and minor units), [`Money`]
//! (a `Decimal` amount that is always a whole number of minor units, plus its
//! currency) and the explicit [`Rounding`] strategies.
//!
//! Nothing here rounds implicitly: a computed value that is not a whole number
//! of minor units becomes [`Money`] only through [`Money::round`] with a named
//! [`Rounding`]. All arithmetic is checked: a currency mismatch or an overflow
//! is a [`CoreError`], never a panic.
//!
//! # Arithmetic: `+` and `-` answer a `Result`
//!
//! Two amounts can be added only when their currencies match, and that is
//! known only at run time (a [`Currency`] is a value, not a type). So `+`
//! and `-` on [`Money`] do not answer `Money` — an operator that had to
//! answer `Money` for `CNY + USD` could only panic or lie — but
//! `Result<Money, CoreError>`, exactly what [`Money::checked_add`] and
//! [`Money::checked_sub`] answer. A chain reads left to right and stops at
//! the first error, and `?` takes the result out:
//!
//! ```
//! use mercato_core::money::{Currency, Money};
//! # fn main() -> Result<(), mercato_core::CoreError> {
//! let goods: Money = "120.00 CNY".parse()?;
//! let shipping: Money = "8.00 CNY".parse()?;
//! let points: Money = "5.50 CNY".parse()?;
//! assert_eq!((goods + shipping - points)?, "122.50 CNY".parse()?);
//! // A currency mismatch is an error value, never a panic.
//! let dollars = Money::parse("1.00", Currency::USD)?;
//! assert!((goods + dollars).is_err());
//! # Ok(()) }
//! ```
//!
//! There is no `+=` (an assignment cannot answer an error) and no
//! `Iterator::sum` (the sum of no amounts has no currency): sum with
//! [`Money::sum`], which takes the currency of the empty sum.
//!
//! Serde: amounts are JSON strings (`"19.90"`); a JSON number is refused.
//!
//! # Amount grammar
//!
//! Every amount that comes in as text — [`Money::parse`], `Money`'s serde
//! forms (`"19.90 CNY"` and `{"amount": "19.90", "currency": "CNY"}`) and
//! [`amount_str`] — goes through one parser, [`parse_amount`], which
//! accepts exactly
//!
//! ```text
//! amount = ["-"] digit+ ["." digit+]        (ASCII digits only)
//! ```
//!
//! No spaces, no `+`, no exponent, no `_`, nothing before or after, and no
//! rounding: a value that `Decimal` cannot hold exactly (more than 28
//! fractional digits, or beyond about 7.9 × 10²⁸) is refused, never
//! rounded. The number of fractional digits written is kept, so a check
//! against a currency ([`Money::new`]) refuses `"399.000"` in CNY (three
//! written digits, two allowed) even though the extra digit is a zero;
//! `"399"` and `"399.0"` are fine.

use std::borrow::Borrow;
use std::fmt;
use std::ops::{Add, Sub};
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::CoreError;

/// An ISO 4217 currency mercato knows: its three-letter code and the number of
/// digits of its minor unit (CNY 2, JPY 0, KWD 3).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: [u8; 3],
    minor_units: u8,
}

/// The ISO 4217 table mercato accepts. Unknown codes are an error, never a
/// default.
const CURRENCIES: &[(&str, u8)] = &[
    ("AUD", 2),
    ("BHD", 3),
    ("CAD", 2),
    ("CHF", 2),
    ("CNY", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("IDR", 2),
    ("INR", 2),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("MOP", 2),
    ("MYR", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TWD", 2),
    ("USD", 2),
    ("VND", 0),
];

impl Currency {
    /// Chinese yuan renminbi.
    pub const CNY: Currency = Currency::known(*b"CNY", 2);
    /// US dollar.
    pub const USD: Currency = Currency::known(*b"USD", 2);
    /// Euro.
    pub const EUR: Currency = Currency::known(*b"EUR", 2);
    /// Japanese yen (no minor unit).
    pub const JPY: Currency = Currency::known(*b"JPY", 0);
    /// Pound sterling.
    pub const GBP: Currency = Currency::known(*b"GBP", 2);
    /// Hong Kong dollar.
    pub const HKD: Currency = Currency::known(*b"HKD", 2);

    const fn known(code: [u8; 3], minor_units: u8) -> Currency {
        Currency { code, minor_units }
    }

    /// Looks up an ISO 4217 code (upper case, e.g. `"CNY"`).
    ///
    /// ```
    /// use mercato_core::money::Currency;
    /// assert_eq!(Currency::from_code("JPY").unwrap().minor_units(), 0);
    /// assert!(Currency::from_code("XXX").is_err());
    /// ```
    pub fn from_code(code: &str) -> Result<Currency, CoreError> {
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(c, m)| {
                let b = c.as_bytes();
                Currency {
                    code: [b[0], b[1], b[2]],
                    minor_units: *m,
                }
            })
            .ok_or_else(|| CoreError::UnknownCurrency(code.to_string()))
    }

    /// The three-letter code.
    pub fn code(&self) -> &str {
        // The code bytes always come from the ASCII table above.
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    /// Digits of the minor unit (2 for cents, 0 for yen).
    pub fn minor_units(&self) -> u32 {
        u32::from(self.minor_units)
    }

    /// One minor unit as a decimal (`0.01` for CNY, `1` for JPY).
    pub fn minor_unit(&self) -> Decimal {
        Decimal::new(1, self.minor_units())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::str::FromStr for Currency {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::from_code(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Reads the code without copying it into a `String` first.
        struct Code;
        impl serde::de::Visitor<'_> for Code {
            type Value = Currency;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an ISO 4217 currency code")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Currency, E> {
                Currency::from_code(v).map_err(E::custom)
            }
        }
        d.deserialize_str(Code)
    }
}

/// The end of [`CoreError::InvalidAmount`]'s message (see
/// [`amount_str::is_amount_error`]).
const NOT_AN_AMOUNT: &str = "is not a decimal amount";

/// The longest input text an error message quotes in full.
const QUOTE_MAX: usize = 48;

/// `s` for an error message (shortened when long).
fn quoted(s: &str) -> String {
    match s.char_indices().nth(QUOTE_MAX) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_string(),
    }
}

/// [`CoreError::InvalidAmount`] quoting `s` (shortened when long).
fn invalid_amount(s: &str) -> CoreError {
    CoreError::InvalidAmount(quoted(s))
}

/// True when `s` is `["-"] digit+ ["." digit+]` (ASCII digits).
fn in_grammar(s: &str) -> bool {
    let unsigned = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match unsigned.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (unsigned, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    digits(int) && frac.is_none_or(digits)
}

/// Parses a decimal amount in the strict grammar
/// `["-"] digit+ ["." digit+]` (see the [module docs](self#amount-grammar)),
/// exactly: the result denotes the very number written, with the written
/// number of fractional digits as its scale.
///
/// ```
/// use mercato_core::money::parse_amount;
/// assert_eq!(parse_amount("399.000").unwrap().scale(), 3);
/// assert_eq!(parse_amount("-12").unwrap().to_string(), "-12");
/// assert!(parse_amount("1_000").is_err());
/// assert!(parse_amount("0.00000000000000000000000000001").is_err()); // 29 decimals
/// ```
///
/// # Errors
/// [`CoreError::InvalidAmount`] for text outside the grammar or a value
/// `Decimal` cannot hold exactly.
pub fn parse_amount(s: &str) -> Result<Decimal, CoreError> {
    if !in_grammar(s) {
        return Err(invalid_amount(s));
    }
    // Within the grammar, `from_str_exact` reads exactly what is written
    // (leading zeros included) or fails where `Decimal` would have to round.
    Decimal::from_str_exact(s).map_err(|_| invalid_amount(s))
}

/// How a computed amount is brought to whole minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Half away from zero (0.125 → 0.13). The default.
    #[default]
    HalfUp,
    /// Half to even, banker's rounding (0.125 → 0.12, 0.135 → 0.14).
    HalfEven,
    /// Toward zero (0.129 → 0.12): used where the contract says "rounded down".
    Down,
}

impl Rounding {
    fn strategy(self) -> RoundingStrategy {
        match self {
            Rounding::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            Rounding::HalfEven => RoundingStrategy::MidpointNearestEven,
            Rounding::Down => RoundingStrategy::ToZero,
        }
    }
}

/// An exact amount of money: always a whole number of the currency's minor
/// units.
///
/// ```
/// use mercato_core::money::{Currency, Money, Rounding};
/// use rust_decimal::Decimal;
///
/// let price = Money::parse("19.90", Currency::CNY).unwrap();
/// let three = price.times(3).unwrap();
/// assert_eq!(three.to_string(), "59.70 CNY");
/// // 15% of 59.70 is 8.955: rounding is always explicit.
/// let off = three.percent(Decimal::from(15), Rounding::HalfUp).unwrap();
/// assert_eq!(off.amount().to_string(), "8.96");
/// assert!(price.checked_add(Money::zero(Currency::USD)).is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

impl Money {
    /// An amount written with at most the currency's minor digits: its
    /// scale (the number of fractional digits it carries, trailing zeros
    /// included) must not exceed [`Currency::minor_units`]. `19.9` and
    /// `19.90` are CNY amounts, `19.900` is not (a caller that computed a
    /// value with more digits rounds it with [`Money::round`] or drops the
    /// zeros with `Decimal::normalize` first).
    ///
    /// ```
    /// use mercato_core::money::{Currency, Money};
    /// use rust_decimal::Decimal;
    /// assert!(Money::new(Decimal::new(1990, 2), Currency::CNY).is_ok());
    /// assert!(Money::new(Decimal::new(19900, 3), Currency::CNY).is_err());
    /// assert!(Money::new(Decimal::new(19900, 3).normalize(), Currency::CNY).is_ok());
    /// ```
    ///
    /// # Errors
    /// [`CoreError::TooManyDecimals`].
    pub fn new(amount: Decimal, currency: Currency) -> Result<Money, CoreError> {
        let minor = currency.minor_units();
        if amount.scale() > minor {
            return Err(CoreError::TooManyDecimals {
                amount,
                currency,
                minor_units: minor,
            });
        }
        let mut amount = amount;
        amount.rescale(minor);
        if amount.is_zero() {
            // `-0.00` is zero: keep one spelling of it.
            amount.set_sign_positive(true);
        }
        Ok(Money { amount, currency })
    }

    /// Parses an amount in the strict grammar (see the [module
    /// docs](self#amount-grammar)) with at most the currency's minor
    /// digits.
    ///
    /// ```
    /// use mercato_core::money::{Currency, Money};
    /// assert_eq!(Money::parse("399", Currency::CNY).unwrap().to_string(), "399.00 CNY");
    /// assert_eq!(Money::parse("-0.5", Currency::CNY).unwrap().to_string(), "-0.50 CNY");
    /// for bad in ["399.000", " 399.00", "+399.00", "399.", ".5", "4e2", "398.99999999999999999999999999999"] {
    ///     assert!(Money::parse(bad, Currency::CNY).is_err(), "{bad}");
    /// }
    /// ```
    ///
    /// # Errors
    /// [`CoreError::InvalidAmount`] for text outside the grammar or a value
    /// `Decimal` cannot hold exactly, [`CoreError::TooManyDecimals`] for
    /// more fractional digits than the currency has.
    pub fn parse(s: &str, currency: Currency) -> Result<Money, CoreError> {
        Money::new(parse_amount(s)?, currency)
    }

    /// Rounds any decimal to minor units with the given strategy.
    pub fn round(value: Decimal, currency: Currency, rounding: Rounding) -> Money {
        let mut amount = value.round_dp_with_strategy(currency.minor_units(), rounding.strategy());
        amount.rescale(currency.minor_units());
        Money { amount, currency }
    }

    /// Zero in `currency`.
    pub fn zero(currency: Currency) -> Money {
        let mut amount = Decimal::ZERO;
        amount.rescale(currency.minor_units());
        Money { amount, currency }
    }

    /// From an integer number of minor units (`1990` CNY is 19.90).
    pub fn from_minor(units: i64, currency: Currency) -> Money {
        Money {
            amount: Decimal::new(units, currency.minor_units()),
            currency,
        }
    }

    /// The amount in minor units, exactly.
    pub fn to_minor(&self) -> Result<i128, CoreError> {
        let factor = Decimal::from(10_i64.pow(self.currency.minor_units()));
        let minor = self
            .amount
            .checked_mul(factor)
            .ok_or(CoreError::Overflow("to_minor"))?;
        i128::try_from(minor).map_err(|_| CoreError::Overflow("to_minor"))
    }

    /// From minor units held in an `i128` (the result of [`Money::to_minor`]
    /// arithmetic).
    pub fn from_minor_i128(units: i128, currency: Currency) -> Result<Money, CoreError> {
        let d = Decimal::try_from_i128_with_scale(units, currency.minor_units())
            .map_err(|_| CoreError::Overflow("from_minor"))?;
        Ok(Money {
            amount: d,
            currency,
        })
    }

    /// The decimal amount (scale = the currency's minor units).
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// True for 0.00.
    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    /// True below zero.
    pub fn is_negative(&self) -> bool {
        self.amount.is_sign_negative() && !self.amount.is_zero()
    }

    /// True above zero.
    pub fn is_positive(&self) -> bool {
        self.amount.is_sign_positive() && !self.amount.is_zero()
    }

    fn same_currency(&self, other: &Money) -> Result<(), CoreError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(CoreError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }

    /// `self + other`; a currency mismatch or overflow is an error.
    pub fn checked_add(&self, other: Money) -> Result<Money, CoreError> {
        self.same_currency(&other)?;
        let amount = self
            .amount
            .checked_add(other.amount)
            .ok_or(CoreError::Overflow("add"))?;
        Ok(Money {
            amount,
            currency: self.currency,
        })
    }

    /// `self - other`; a currency mismatch or overflow is an error.
    pub fn checked_sub(&self, other: Money) -> Result<Money, CoreError> {
        self.same_currency(&other)?;
        let amount = self
            .amount
            .checked_sub(other.amount)
            .ok_or(CoreError::Overflow("sub"))?;
        Ok(Money {
            amount,
            currency: self.currency,
        })
    }

    /// `self × qty` (exact: the result is still whole minor units).
    pub fn times(&self, qty: i64) -> Result<Money, CoreError> {
        let amount = self
            .amount
            .checked_mul(Decimal::from(qty))
            .ok_or(CoreError::Overflow("times"))?;
        Ok(Money {
            amount,
            currency: self.currency,
        })
    }

    /// `percent`% of this amount, rounded to minor units with `rounding`.
    pub fn percent(&self, percent: Decimal, rounding: Rounding) -> Result<Money, CoreError> {
        let raw = self
            .amount
            .checked_mul(percent)
            .and_then(|x| x.checked_div(Decimal::ONE_HUNDRED))
            .ok_or(CoreError::Overflow("percent"))?;
        Ok(Money::round(raw, self.currency, rounding))
    }

    /// The smaller of two amounts of the same currency.
    pub fn min(self, other: Money) -> Result<Money, CoreError> {
        self.same_currency(&other)?;
        Ok(if other.amount < self.amount {
            other
        } else {
            self
        })
    }

    /// The larger of two amounts of the same currency.
    pub fn max(self, other: Money) -> Result<Money, CoreError> {
        self.same_currency(&other)?;
        Ok(if other.amount > self.amount {
            other
        } else {
            self
        })
    }

    /// Sums amounts (owned or borrowed); `currency` is the result's
    /// currency for an empty input, and every amount must be in it.
    ///
    /// ```
    /// use mercato_core::money::{Currency, Money};
    /// let lines: Vec<Money> = ["10.00 CNY", "2.50 CNY"].iter().map(|s| s.parse().unwrap()).collect();
    /// assert_eq!(Money::sum(Currency::CNY, &lines).unwrap().to_string(), "12.50 CNY");
    /// assert_eq!(Money::sum(Currency::CNY, lines).unwrap().to_string(), "12.50 CNY");
    /// assert!(Money::sum(Currency::CNY, Vec::<Money>::new()).unwrap().is_zero());
    /// assert!(Money::sum(Currency::USD, ["1.00 CNY".parse::<Money>().unwrap()]).is_err());
    /// ```
    ///
    /// # Errors
    /// [`CoreError::CurrencyMismatch`] for an amount in another currency,
    /// [`CoreError::Overflow`].
    pub fn sum(
        currency: Currency,
        items: impl IntoIterator<Item = impl Borrow<Money>>,
    ) -> Result<Money, CoreError> {
        items
            .into_iter()
            .try_fold(Money::zero(currency), |acc, m| acc.checked_add(*m.borrow()))
    }
}

/// `a + b` is [`Money::checked_add`]: `Err` for a currency mismatch or an
/// overflow (see the [module docs](self#arithmetic--and---answer-a-result)).
///
/// ```
/// use mercato_core::money::Money;
/// let a: Money = "1.10 CNY".parse().unwrap();
/// let b: Money = "2.20 CNY".parse().unwrap();
/// assert_eq!((a + b).unwrap().to_string(), "3.30 CNY");
/// assert!((a + "1 USD".parse::<Money>().unwrap()).is_err());
/// ```
impl Add for Money {
    type Output = Result<Money, CoreError>;
    fn add(self, rhs: Money) -> Result<Money, CoreError> {
        self.checked_add(rhs)
    }
}

/// `a - b` is [`Money::checked_sub`]: `Err` for a currency mismatch or an
/// overflow.
///
/// ```
/// use mercato_core::money::Money;
/// let a: Money = "1.10 CNY".parse().unwrap();
/// let b: Money = "2.20 CNY".parse().unwrap();
/// assert_eq!((a - b).unwrap().to_string(), "-1.10 CNY");
/// ```
impl Sub for Money {
    type Output = Result<Money, CoreError>;
    fn sub(self, rhs: Money) -> Result<Money, CoreError> {
        self.checked_sub(rhs)
    }
}

/// Continues a chain: `a + b + c` adds `c` to the result of `a + b`; an
/// error stays the first error.
impl Add<Money> for Result<Money, CoreError> {
    type Output = Result<Money, CoreError>;
    fn add(self, rhs: Money) -> Result<Money, CoreError> {
        self?.checked_add(rhs)
    }
}

/// Continues a chain: `a + b - c` takes `c` from the result of `a + b`;
/// an error stays the first error.
impl Sub<Money> for Result<Money, CoreError> {
    type Output = Result<Money, CoreError>;
    fn sub(self, rhs: Money) -> Result<Money, CoreError> {
        self?.checked_sub(rhs)
    }
}

/// Reads the form `Display` writes and serde stores: the amount in the
/// strict grammar of [`parse_amount`], one space, an ISO 4217 code
/// (`"19.90 CNY"`, `"150 JPY"`), with at most the currency's minor digits
/// as written.
///
/// ```
/// use mercato_core::money::{Currency, Money};
/// let m: Money = "19.9 CNY".parse().unwrap();
/// assert_eq!(m, Money::parse("19.90", Currency::CNY).unwrap());
/// assert_eq!(m.to_string().parse::<Money>().unwrap(), m);
/// for bad in ["19.90", "19.90  CNY", " 19.90 CNY", "19.90 CNY ", "19.900 CNY", "1e3 CNY", "19.90 cny", "19.90 XYZ"] {
///     assert!(bad.parse::<Money>().is_err(), "{bad}");
/// }
/// ```
impl FromStr for Money {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Money, CoreError> {
        let Some((amount, code)) = s.split_once(' ') else {
            return Err(CoreError::InvalidMoney(quoted(s)));
        };
        let amount = parse_amount(amount)?;
        let currency = Currency::from_code(code)?;
        Money::new(amount, currency)
    }
}

impl PartialOrd for Money {
    /// Amounts of different currencies are not ordered.
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        if self.currency == other.currency {
            self.amount.partial_cmp(&other.amount)
        } else {
            None
        }
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

/// The object form `{"amount": "19.90", "currency": "CNY"}`, still read.
#[derive(Deserialize)]
struct MoneyRepr {
    #[serde(with = "amount_str")]
    amount: Decimal,
    currency: Currency,
}

/// Money is written as one string, the amount in minor-unit digits then
/// the currency code: `"19.90 CNY"` (what `Display` prints). One short
/// string per amount keeps stored events small and fast to read; the
/// object form `{"amount": "19.90", "currency": "CNY"}` is still accepted.
impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0_u8; MONEY_TEXT_MAX];
        match money_text(&mut buf, self) {
            Some(text) => s.serialize_str(text),
            None => s.collect_str(self),
        }
    }
}

/// Room for the longest money text: a sign, 29 digits, a point, a leading
/// `0.` for scale 28, a space and a three-letter code.
const MONEY_TEXT_MAX: usize = 64;

/// `Display` of money (`"19.90 CNY"`) written into `buf` without the
/// formatting machinery: the mantissa's digits with the point put in by
/// the scale. Events carry dozens of amounts, and this is on the commit
/// path of every order. `None` (the caller then uses `Display`) for
/// negative zero, whose sign `Display` decides. A property test checks it
/// against `Display` for any amount.
fn money_text<'b>(buf: &'b mut [u8; MONEY_TEXT_MAX], m: &Money) -> Option<&'b str> {
    let d = m.amount;
    let mantissa = d.mantissa();
    if mantissa == 0 && d.is_sign_negative() {
        return None;
    }
    let mut digits = itoa::Buffer::new();
    let text = digits.format(mantissa.unsigned_abs()).as_bytes();
    let scale = usize::try_from(d.scale()).ok()?;
    let mut at = 0;
    let mut put = |bytes: &[u8], at: &mut usize| -> Option<()> {
        let end = at.checked_add(bytes.len())?;
        buf.get_mut(*at..end)?.copy_from_slice(bytes);
        *at = end;
        Some(())
    };
    if mantissa < 0 {
        put(b"-", &mut at)?;
    }
    if scale == 0 {
        put(text, &mut at)?;
    } else if text.len() > scale {
        let (int, frac) = text.split_at(text.len() - scale);
        put(int, &mut at)?;
        put(b".", &mut at)?;
        put(frac, &mut at)?;
    } else {
        put(b"0.", &mut at)?;
        for _ in text.len()..scale {
            put(b"0", &mut at)?;
        }
        put(text, &mut at)?;
    }
    put(b" ", &mut at)?;
    put(m.currency.code().as_bytes(), &mut at)?;
    std::str::from_utf8(buf.get(..at)?).ok()
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MoneyVisitor;
        impl<'de> serde::de::Visitor<'de> for MoneyVisitor {
            type Value = Money;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an amount and its currency, e.g. \"19.90 CNY\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Money, E> {
                // One grammar for the text form: `FromStr`.
                v.parse().map_err(E::custom)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Money, A::Error> {
                let r = MoneyRepr::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Money::new(r.amount, r.currency).map_err(serde::de::Error::custom)
            }
        }
        d.deserialize_any(MoneyVisitor)
    }
}

/// Serde helpers for a bare [`Decimal`] amount held as a JSON string.
/// Serializing writes the decimal as a string; deserializing accepts only a
/// string (a JSON number is an error: floats never touch money) in the
/// strict grammar of [`parse_amount`] (`["-"] digit+ ["." digit+]`, exact,
/// no spaces, `+` or exponent). The written number of fractional digits is
/// kept as the decimal's scale, so the code that knows the currency (or,
/// for a percent, the allowed digits) can refuse extra digits, zeros
/// included.
pub mod amount_str {
    use std::fmt;

    use rust_decimal::Decimal;
    use serde::{Deserializer, Serializer, de};

    /// Writes the decimal as a string.
    pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(d)
    }

    /// What the reader expects, as serde reports it for a wrong type.
    const EXPECTING: &str = "a decimal amount as a string, e.g. \"19.90\"";

    /// True when a deserialization error `message` was raised by this
    /// module's reader: amount text outside the grammar, or a JSON value
    /// of another type (a number) where an amount string belongs. Lets a
    /// caller that deserializes a larger definition tell a malformed amount
    /// (the contract's `invalid_input`) from other problems.
    ///
    /// ```
    /// use mercato_core::money::amount_str;
    /// #[derive(serde::Deserialize, Debug)]
    /// struct P { #[serde(with = "amount_str")] price: rust_decimal::Decimal }
    /// for bad in [r#"{"price": "+1"}"#, r#"{"price": 1.5}"#] {
    ///     let e = serde_json::from_str::<P>(bad).unwrap_err();
    ///     assert!(amount_str::is_amount_error(&e.to_string()), "{e}");
    /// }
    /// let e = serde_json::from_str::<P>(r#"{"cost": "1"}"#).unwrap_err();
    /// assert!(!amount_str::is_amount_error(&e.to_string()));
    /// ```
    pub fn is_amount_error(message: &str) -> bool {
        message.contains(super::NOT_AN_AMOUNT) || message.contains(EXPECTING)
    }

    /// Reads a decimal from a string only.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        d.deserialize_any(StrOnly)
    }

    /// Parses a decimal amount written as a string, with
    /// [`super::parse_amount`].
    pub(crate) fn parse<E: de::Error>(v: &str) -> Result<Decimal, E> {
        super::parse_amount(v).map_err(E::custom)
    }

    pub(crate) struct StrOnly;

    impl de::Visitor<'_> for StrOnly {
        type Value = Decimal;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(EXPECTING)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
            parse(v)
        }
    }

    /// The same for an optional amount (`null` or absent → `None`).
    pub mod option {
        use rust_decimal::Decimal;
        use serde::{Deserialize, Deserializer, Serializer};

        /// Writes the decimal as a string, or null.
        pub fn serialize<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => s.collect_str(d),
                None => s.serialize_none(),
            }
        }

        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "super")] Decimal);

        /// Reads an optional decimal from a string or null.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
            Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cny(s: &str) -> Money {
        Money::parse(s, Currency::CNY).unwrap()
    }

    #[test]
    fn known_and_unknown_currencies() {
        for (code, minor) in [
            ("CNY", 2),
            ("USD", 2),
            ("EUR", 2),
            ("JPY", 0),
            ("GBP", 2),
            ("HKD", 2),
        ] {
            let c = Currency::from_code(code).unwrap();
            assert_eq!(c.code(), code);
            assert_eq!(c.minor_units(), minor);
        }
        assert_eq!(
            Currency::from_code("cny"),
            Err(CoreError::UnknownCurrency("cny".into()))
        );
        assert!(Currency::from_code("").is_err());
    }

    #[test]
    fn new_refuses_extra_decimals_even_trailing_zeros() {
        assert!(Money::parse("1.234", Currency::CNY).is_err());
        assert!(matches!(
            Money::parse("1.230", Currency::CNY),
            Err(CoreError::TooManyDecimals { .. })
        ));
        assert_eq!(cny("1.2").amount().to_string(), "1.20");
        assert!(Money::parse("1.5", Currency::JPY).is_err());
        assert!(Money::parse("150.0", Currency::JPY).is_err());
        assert_eq!(
            Money::parse("150", Currency::JPY)
                .unwrap()
                .amount()
                .to_string(),
            "150"
        );
        assert!(Money::parse("abc", Currency::CNY).is_err());
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(cny("1.10").checked_add(cny("2.20")).unwrap(), cny("3.30"));
        assert_eq!(cny("1.10").checked_sub(cny("2.20")).unwrap(), cny("-1.10"));
        let usd = Money::parse("1", Currency::USD).unwrap();
        assert!(matches!(
            cny("1").checked_add(usd),
            Err(CoreError::CurrencyMismatch { .. })
        ));
        let big = Money::new(Decimal::MAX, Currency::JPY).unwrap();
        assert_eq!(
            big.checked_add(Money::from_minor(1, Currency::JPY)),
            Err(CoreError::Overflow("add"))
        );
        assert_eq!(big.times(2), Err(CoreError::Overflow("times")));
    }

    #[test]
    fn operators_answer_results_and_keep_the_first_error() {
        // 10.00 + 2.50 - 0.75 = 11.75.
        assert_eq!(cny("10.00") + cny("2.50") - cny("0.75"), Ok(cny("11.75")));
        assert_eq!(cny("1.00") - cny("1.00"), Ok(Money::zero(Currency::CNY)));
        let usd = Money::parse("1", Currency::USD).unwrap();
        let mismatch = CoreError::CurrencyMismatch {
            left: Currency::CNY,
            right: Currency::USD,
        };
        assert_eq!(cny("1") + usd, Err(mismatch.clone()));
        // The mismatch in the middle of a chain is what the chain answers.
        assert_eq!(cny("1") + usd + cny("2"), Err(mismatch.clone()));
        assert_eq!(cny("1") - usd - cny("2"), Err(mismatch));
        let big = Money::new(Decimal::MAX, Currency::JPY).unwrap();
        let one = Money::from_minor(1, Currency::JPY);
        assert_eq!(big + one, Err(CoreError::Overflow("add")));
        let low = Money::new(-Decimal::MAX, Currency::JPY).unwrap();
        assert_eq!(low - one, Err(CoreError::Overflow("sub")));
        // The operators agree with the checked methods.
        assert_eq!(
            cny("3.30") + cny("-1.10"),
            cny("3.30").checked_add(cny("-1.10"))
        );
    }

    #[test]
    fn from_str_reads_what_display_writes() {
        for m in [
            cny("19.90"),
            cny("-0.05"),
            Money::zero(Currency::CNY),
            Money::parse("150", Currency::JPY).unwrap(),
            Money::parse("1.234", Currency::from_code("KWD").unwrap()).unwrap(),
        ] {
            assert_eq!(m.to_string().parse::<Money>(), Ok(m));
        }
        assert_eq!("19.9 CNY".parse::<Money>(), Ok(cny("19.90")));
        assert!(matches!(
            "19.90".parse::<Money>(),
            Err(CoreError::InvalidMoney(_))
        ));
        assert!(matches!(
            "19.90 CNY extra".parse::<Money>(),
            Err(CoreError::UnknownCurrency(_))
        ));
        assert!(matches!(
            "+19.90 CNY".parse::<Money>(),
            Err(CoreError::InvalidAmount(_))
        ));
        assert!(matches!(
            "19.999 CNY".parse::<Money>(),
            Err(CoreError::TooManyDecimals { .. })
        ));
        // Long input is quoted shortened.
        let long = "9".repeat(500);
        let e = long.parse::<Money>().unwrap_err().to_string();
        assert!(e.len() < 120, "{e}");
    }

    #[test]
    fn rounding_is_explicit() {
        let d: Decimal = "0.125".parse().unwrap();
        assert_eq!(
            Money::round(d, Currency::CNY, Rounding::HalfUp),
            cny("0.13")
        );
        assert_eq!(
            Money::round(d, Currency::CNY, Rounding::HalfEven),
            cny("0.12")
        );
        assert_eq!(
            Money::round("0.135".parse().unwrap(), Currency::CNY, Rounding::HalfEven),
            cny("0.14")
        );
        assert_eq!(
            Money::round("0.129".parse().unwrap(), Currency::CNY, Rounding::Down),
            cny("0.12")
        );
        assert_eq!(
            Money::round("-0.125".parse().unwrap(), Currency::CNY, Rounding::HalfUp),
            cny("-0.13")
        );
        assert_eq!(
            cny("59.70")
                .percent(Decimal::from(15), Rounding::HalfUp)
                .unwrap(),
            cny("8.96")
        );
    }

    #[test]
    fn minor_units_round_trip() {
        assert_eq!(cny("19.90").to_minor().unwrap(), 1990);
        assert_eq!(Money::from_minor(1990, Currency::CNY), cny("19.90"));
        assert_eq!(
            Money::from_minor_i128(-5, Currency::CNY).unwrap(),
            cny("-0.05")
        );
    }

    #[test]
    fn serde_uses_strings_and_refuses_numbers() {
        let m = cny("19.9");
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#""19.90 CNY""#);
        assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), m);
        let yen = Money::new(Decimal::from(1990), Currency::JPY).unwrap();
        assert_eq!(serde_json::to_string(&yen).unwrap(), r#""1990 JPY""#);
        // The object form is still read.
        assert_eq!(
            serde_json::from_str::<Money>(r#"{"amount":"19.90","currency":"CNY"}"#).unwrap(),
            m
        );
        for bad in [
            r#""19.90""#,
            r#""19.999 CNY""#,
            r#""1e3 CNY""#,
            r#""19.90 XYZ""#,
            r#""19.90  CNY""#,
            r#""19.900 CNY""#,
            r#""+19.90 CNY""#,
            r#"" 19.90 CNY""#,
            r#""19.90 CNY ""#,
            "19.9",
        ] {
            assert!(serde_json::from_str::<Money>(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<Money>(r#"{"amount":19.9,"currency":"CNY"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount":"19.999","currency":"CNY"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount":"1","currency":"XYZ"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount":"1e3","currency":"CNY"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount":"1.000","currency":"CNY"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount":" 1.00","currency":"CNY"}"#).is_err());
    }

    #[test]
    fn the_amount_grammar_is_strict_and_exact() {
        // The findings of issue 11: rounded, padded or signed forms.
        for bad in [
            "398.99999999999999999999999999999",
            " 399.00",
            "399.00 ",
            "+399.00",
            "399.",
            ".5",
            "-",
            "",
            "--1",
            "1.2.3",
            "1_000",
            "1e3",
            "1E3",
            "0x10",
            "١٢",
            "12,5",
            "NaN",
            "79228162514264337593543950336", // 2^96: beyond Decimal
        ] {
            assert!(parse_amount(bad).is_err(), "{bad:?} was accepted");
            assert!(Money::parse(bad, Currency::CNY).is_err(), "{bad:?}");
            let json = serde_json::to_string(bad).unwrap();
            let mut de = serde_json::Deserializer::from_str(&json);
            assert!(amount_str::deserialize(&mut de).is_err(), "{bad:?}");
        }
        // Written digits are kept: the currency check sees "399.000".
        assert_eq!(parse_amount("399.000").unwrap().scale(), 3);
        assert!(Money::parse("399.000", Currency::CNY).is_err());
        assert!(Money::parse("399.001", Currency::CNY).is_err());
        assert_eq!(cny("399"), cny("399.00"));
        assert_eq!(cny("399.0"), cny("399.00"));
        assert_eq!(cny("0399.00"), cny("399.00"));
        // Largest Decimal: 2^96 - 1 = 79228162514264337593543950335.
        assert_eq!(
            parse_amount("79228162514264337593543950335").unwrap(),
            Decimal::MAX
        );
        // 28 fractional digits are the most Decimal keeps.
        assert_eq!(
            parse_amount("0.0000000000000000000000000001").unwrap(),
            Decimal::new(1, 28)
        );
        // Negative zero is zero.
        assert_eq!(cny("-0.00"), Money::zero(Currency::CNY));
        assert_eq!(cny("-0").to_string(), "0.00 CNY");
        // The message `amount_str::is_amount_error` recognizes.
        assert!(amount_str::is_amount_error(
            &CoreError::InvalidAmount("x".into()).to_string()
        ));
        // Long input is quoted shortened in the error.
        let long = "9".repeat(500);
        let e = parse_amount(&long).unwrap_err().to_string();
        assert!(e.len() < 100, "{e}");
    }

    /// The reference reading of an amount string: `Some((mantissa, scale))`
    /// when `s` is in the grammar (sign, digits, optional point and
    /// digits), computed digit by digit in `i128` (`None` inside when the
    /// number has more digits than i128 holds).
    fn reference(s: &str) -> Option<Option<(i128, u32)>> {
        let (neg, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int, frac) = match body.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (body, None),
        };
        let ok = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
        if !ok(int) || !frac.is_none_or(ok) {
            return None;
        }
        let frac = frac.unwrap_or("");
        let mut m: Option<i128> = Some(0);
        for c in int.chars().chain(frac.chars()) {
            let digit = i128::from(c as u8 - b'0');
            m = m
                .and_then(|m| m.checked_mul(10))
                .and_then(|m| m.checked_add(digit));
        }
        let scale = u32::try_from(frac.len()).ok();
        Some(m.zip(scale).map(|(m, sc)| (if neg { -m } else { m }, sc)))
    }

    use proptest::prelude::*;

    proptest! {
        /// The serialized text of money is exactly its `Display`, for any
        /// amount a `Decimal` holds (any sign, mantissa and scale, zero
        /// included), and stays one JSON string.
        #[test]
        fn money_text_is_display(lo in any::<u32>(), mid in any::<u32>(), hi in any::<u32>(),
                                 neg in any::<bool>(), scale in 0_u32..=28, small in any::<bool>(),
                                 currency in prop::sample::select(vec![Currency::CNY, Currency::JPY, Currency::USD])) {
            let amount = if small {
                Decimal::from_parts(lo % 1000, 0, 0, neg, scale)
            } else {
                Decimal::from_parts(lo, mid, hi, neg, scale)
            };
            let m = Money { amount, currency };
            let json = serde_json::to_string(&m).unwrap();
            prop_assert_eq!(json, format!("\"{m}\""));
        }

        /// Random strings, biased toward near-amounts: either refused, or
        /// parsed to exactly the number they denote (mantissa and scale),
        /// and every grammatical string Decimal can hold is accepted.
        #[test]
        fn parse_is_exact_or_refuses(s in prop_oneof![
            "[-+ ]?[0-9]{0,32}(\\.[0-9]{0,32})?[ eE0-9]?",
            "-?0{0,40}[0-9]{1,30}(\\.[0-9]{1,30}0{0,5})?",
            ".{0,12}",
        ]) {
            let got = parse_amount(&s);
            match reference(&s) {
                None => prop_assert!(got.is_err(), "{:?} is outside the grammar but parsed", s),
                Some(None) => prop_assert!(got.is_err(), "{:?} has more digits than i128 but parsed", s),
                Some(Some((m, scale))) => {
                    // Decimal holds |mantissa| < 2^96 with scale ≤ 28 (after
                    // leading zeros, which carry no value).
                    let fits = m.unsigned_abs() < (1_u128 << 96) && scale <= 28;
                    match got {
                        Ok(d) => {
                            prop_assert!(fits, "{:?} parsed although Decimal cannot hold it", s);
                            prop_assert_eq!(d.mantissa(), m, "{:?}", s);
                            prop_assert_eq!(d.scale(), scale, "{:?}", s);
                        }
                        Err(_) => prop_assert!(!fits, "{:?} refused although exact", s),
                    }
                }
            }
        }

        /// A CNY amount is accepted exactly when it has at most two
        /// written decimals, and then equals its minor units.
        #[test]
        fn money_parse_counts_written_digits(units in -10_000_000_i64..10_000_000, extra in 0_usize..4, zeros in any::<bool>()) {
            let base = Money::from_minor(units, Currency::CNY).to_string();
            let amount = base.trim_end_matches(" CNY");
            let padded = if zeros {
                format!("{amount}{}", "0".repeat(extra))
            } else {
                format!("{amount}{}", "7".repeat(extra))
            };
            let got = Money::parse(&padded, Currency::CNY);
            if extra == 0 {
                prop_assert_eq!(got.unwrap().to_minor().unwrap(), i128::from(units));
            } else {
                prop_assert!(got.is_err(), "{} accepted", padded);
            }
        }
    }
}
