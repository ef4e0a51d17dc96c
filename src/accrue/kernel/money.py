"""Integer money in ISO 4217 minor units.

Exponents come from a table, never an assumption of two decimals: JPY has
none, KWD three. Amounts are bounded well inside int64 so that sums of many
lines can never overflow a column or the wire type.
"""

from __future__ import annotations

from dataclasses import dataclass

from accrue.kernel.errors import AmountOutOfRange, CurrencyMismatch, CurrencyUnsupported

# Largest absolute amount of one line or total, in minor units (10^15, i.e.
# ten trillion dollars); int64 holds 9.2 * 10^18, leaving room for sums.
MAX_AMOUNT_MINOR = 10**15

_EXPONENT_0 = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_EXPONENT_3 = "BHD IQD JOD KWD LYD OMR TND"
_EXPONENT_4 = "CLF UYW"
_EXPONENT_2 = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN "
    "BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB "
    "EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS "
    "KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN "
    "MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD "
    "SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS "
    "UAH USD USN UYU UZS VES VED WST XCD XCG YER ZAR ZMW ZWG"
)

CURRENCY_EXPONENTS: dict[str, int] = {
    **{code: 0 for code in _EXPONENT_0.split()},
    **{code: 2 for code in _EXPONENT_2.split()},
    **{code: 3 for code in _EXPONENT_3.split()},
    **{code: 4 for code in _EXPONENT_4.split()},
}


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO 4217 currency and the number of decimals of its minor unit."""

    code: str
    exponent: int

    @classmethod
    def of(cls, code: str) -> Currency:
        """The supported currency `code`, or CurrencyUnsupported."""
        exponent = CURRENCY_EXPONENTS.get(code)
        if exponent is None:
            raise CurrencyUnsupported(
                f"currency {code!r} is not a supported ISO 4217 currency",
                metadata={"currency_code": code},
            )
        return cls(code, exponent)


def check_amount(amount_minor: int, *, field: str) -> int:
    """Return `amount_minor` if it is within the platform's bounds."""
    if abs(amount_minor) > MAX_AMOUNT_MINOR:
        raise AmountOutOfRange(
            f"{field} exceeds {MAX_AMOUNT_MINOR} minor units",
            metadata={"field": field},
        )
    return amount_minor


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An amount in minor units of one currency. Arithmetic never mixes currencies."""

    amount_minor: int
    currency_code: str

    @classmethod
    def zero(cls, currency_code: str) -> Money:
        return cls(0, currency_code)

    def _same(self, other: Money) -> None:
        if other.currency_code != self.currency_code:
            raise CurrencyMismatch(
                f"cannot combine {self.currency_code} and {other.currency_code}",
                metadata={"left": self.currency_code, "right": other.currency_code},
            )

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount_minor + other.amount_minor, self.currency_code)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount_minor - other.amount_minor, self.currency_code)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency_code)

    def format(self) -> str:
        """Human form with the currency's own number of decimals, e.g. `12.50 USD`."""
        exponent = Currency.of(self.currency_code).exponent
        sign = "-" if self.amount_minor < 0 else ""
        units, minor = divmod(abs(self.amount_minor), 10**exponent)
        if exponent == 0:
            return f"{sign}{units} {self.currency_code}"
        return f"{sign}{units}.{minor:0{exponent}d} {self.currency_code}"
