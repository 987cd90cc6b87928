#!/usr/bin/env python3
"""A stand-in for a MySQL 8 server, as far as a client's connection goes
(test_db_bulk.sh): there is no MySQL server on the test machines, and what
the client library learns from the handshake is what decides how the
cluster writes its batches (src/common/db.c, s_server). It greets as MySQL
does (version 8.0.36, capabilities with CLIENT_MYSQL and without MariaDB's
extended ones, mysql_native_password), accepts any login, answers every
query, ping and USE with OK, refuses to prepare statements (it runs no SQL),
and logs each command to a file: "QUERY <text>", "PING", "INIT_DB <name>".

    fake_mysql.py PORT LOGFILE
"""
import os
import socketserver
import struct
import sys
import threading

VERSION = b"8.0.36"
CLIENT_LONG_PASSWORD = 1            # a MySQL server sets it; MariaDB clears it (CLIENT_MYSQL)
CAPABILITIES = (CLIENT_LONG_PASSWORD | 2 | 4 | 8 | 512 | 8192 | 32768 | (1 << 16) | (1 << 17) | (1 << 18)
                | (1 << 19))        # FOUND_ROWS, LONG_FLAG, CONNECT_WITH_DB, PROTOCOL_41, TRANSACTIONS,
                                    # SECURE_CONNECTION, MULTI_STATEMENTS/RESULTS, PS_MULTI_RESULTS, PLUGIN_AUTH
COM_QUIT, COM_INIT_DB, COM_QUERY, COM_PING, COM_STMT_PREPARE, COM_STMT_CLOSE = 1, 2, 3, 14, 22, 25

log_lock = threading.Lock()


def log(line):
    with log_lock, open(sys.argv[2], "a") as f:
        f.write(line + "\n")


class Connection(socketserver.BaseRequestHandler):
    def send(self, seq, payload):
        self.request.sendall(struct.pack("<I", len(payload))[:3] + bytes([seq & 0xFF]) + payload)

    def recv(self):
        header = self.recv_exactly(4)
        if header is None:
            return None, None
        length = header[0] | header[1] << 8 | header[2] << 16
        return header[3], self.recv_exactly(length)

    def recv_exactly(self, n):
        data = b""
        while len(data) < n:
            chunk = self.request.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def ok(self, seq):
        self.send(seq, b"\x00\x00\x00" + struct.pack("<HH", 2, 0))

    def error(self, seq, code, message):
        self.send(seq, b"\xff" + struct.pack("<H", code) + b"#HY000" + message.encode())

    def handle(self):
        scramble = os.urandom(20).replace(b"\x00", b"\x01")
        greeting = (b"\x0a" + VERSION + b"\x00" + struct.pack("<I", threading.get_ident() & 0xFFFFFFFF)
                    + scramble[:8] + b"\x00" + struct.pack("<H", CAPABILITIES & 0xFFFF) + bytes([45])
                    + struct.pack("<H", 2) + struct.pack("<H", CAPABILITIES >> 16) + bytes([21])
                    + b"\x00" * 10 + scramble[8:] + b"\x00" + b"mysql_native_password\x00")
        self.send(0, greeting)
        seq, _ = self.recv()                 # the login: any is accepted
        if seq is None:
            return
        self.ok(seq + 1)
        while True:
            seq, packet = self.recv()
            if not packet:
                return
            command, body = packet[0], packet[1:].decode(errors="replace")
            if command == COM_QUIT:
                return
            if command == COM_QUERY:
                log("QUERY " + body)
                self.ok(1)
            elif command == COM_INIT_DB:
                log("INIT_DB " + body)
                self.ok(1)
            elif command == COM_PING:
                log("PING")
                self.ok(1)
            elif command == COM_STMT_CLOSE:
                pass
            elif command == COM_STMT_PREPARE:
                self.error(1, 1295, "the fake MySQL server prepares no statements")
            else:
                self.error(1, 1047, "unknown command")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    with Server(("127.0.0.1", int(sys.argv[1])), Connection) as server:
        log("LISTENING")
        server.serve_forever()
