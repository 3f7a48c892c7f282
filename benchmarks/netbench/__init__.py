"""Network benchmark: dimse vs pynetdicom vs dcmtk over loopback (not a test).

Each tool talks to its own kind (storescu -> storescp, echoscu -> storescp) on
127.0.0.1, with the same generated data, in alternating order; every figure is a
median over ``--runs`` runs, and dimse is quoted as a ratio of each other tool.

* W1  N instances of ~64 KiB (CT 128x256, 16 bit, Explicit VR LE) over one association:
      instances/s, plain (N / t_N, includes process start, imports and association) and
      steady state ((N-1) / (t_N - t_1)).
* W2  N instances of 50 MiB: MB/s (10^6 bytes of file per second), plain and steady.
      The raw loopback TCP rate (sendall of 1 MiB chunks into recv_into) is the ceiling.
* W3  N C-ECHO on one association: echoes/s, plain and steady.
* W4  N associations of one C-ECHO each: associations/s, (a) as a shell loop of N
      ``echoscu`` processes (measures process start) and (b) for the Python libraries an
      in-process loop over each library's API after one warm-up association.
* W5  peak RSS of the SCP process during W2 (VmHWM from /proc, read before stopping it).
* Q1  C-FIND, IMAGE level under one series, N matches: matches/s.
* Q2  C-GET of one series, N instances of ~16.5 KiB in one request: instances/s.
* Q3  C-MOVE of one series, N instances to a dcmtk storescp: instances/s.
      Q1-Q3 run against dcmqrscp, pynetdicom's qrscp and dimse qrscp, each loaded with
      the same study; each SCP once with its own tool's SCU and once with one common
      client (dimse's asyncio API in-process), so that only the SCP differs.

Received files are counted, matched to the sent SOP Instance UIDs and a few are compared
byte for byte (data set after the File Meta group); a run that lost or changed data is
FAILED. See benchmarks/README.md for the method and how to read the output.

Modules: ``settings`` (constants, sizes), ``procs`` (child processes, /proc, outside
load), ``tools`` (each tool's command lines), ``data`` (test instances), ``verify``
(what arrived), ``workloads`` (the measurements), ``qr_data``/``qr_tools``/``qr_workloads``
(the same for Query/Retrieve), ``report`` (summary and tables), ``cli`` (options and
driver). The entry point is ``benchmarks/network_bench.py``.
"""
