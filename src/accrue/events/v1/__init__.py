"""Generated from the protobuf contract. DO NOT EDIT."""
