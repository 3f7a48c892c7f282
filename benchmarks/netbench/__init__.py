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

Received files are counted, matched to the sent SOP Instance UIDs and a few are compared
byte for byte (data set after the File Meta group); a run that lost or changed data is
FAILED. See benchmarks/README.md for the method and how to read the output.

Modules: ``settings`` (constants, sizes), ``procs`` (child processes, /proc, outside
load), ``tools`` (each tool's command lines), ``data`` (test instances), ``verify``
(what arrived), ``workloads`` (the measurements), ``report`` (summary and tables),
``cli`` (options and driver). The entry point is ``benchmarks/network_bench.py``.
"""
