from accrue.billing.v1 import catalog_pb2 as _catalog_pb2
from accrue.billing.v1 import customer_pb2 as _customer_pb2
from accrue.billing.v1 import ledger_pb2 as _ledger_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProductChanged(_message.Message):
    __slots__ = ("product",)
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    product: _catalog_pb2.Product
    def __init__(self, product: _Optional[_Union[_catalog_pb2.Product, _Mapping]] = ...) -> None: ...

class PriceChanged(_message.Message):
    __slots__ = ("price",)
    PRICE_FIELD_NUMBER: _ClassVar[int]
    price: _catalog_pb2.Price
    def __init__(self, price: _Optional[_Union[_catalog_pb2.Price, _Mapping]] = ...) -> None: ...

class CustomerChanged(_message.Message):
    __slots__ = ("customer",)
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: _customer_pb2.Customer
    def __init__(self, customer: _Optional[_Union[_customer_pb2.Customer, _Mapping]] = ...) -> None: ...

class LedgerTransactionPosted(_message.Message):
    __slots__ = ("transaction",)
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    transaction: _ledger_pb2.LedgerTransaction
    def __init__(self, transaction: _Optional[_Union[_ledger_pb2.LedgerTransaction, _Mapping]] = ...) -> None: ...
