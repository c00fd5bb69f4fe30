"""Transports: the gRPC service and the protobuf codec."""
