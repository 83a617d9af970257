"""The wire protocol, sans-IO: messages, line framing and the text-command grammar."""
