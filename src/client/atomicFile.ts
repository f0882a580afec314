// Crash-safe file writes: the new content goes to a temporary file beside the target (mode 0600),
// is flushed to disk, and replaces the target by rename, which is atomic on POSIX file systems; the
// directory is flushed too, so after a crash the file holds either the old or the new content,
// never a mix or nothing.
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

let counter = 0;

export function writeFileAtomic(file: string, data: string | Buffer, mode = 0o600): void {
    const dir = dirname(file);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = join(dir, `.${basename(file)}.${process.pid}.${++counter}.tmp`);
    const fd = openSync(tmp, 'w', mode);
    try {
        const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
        let off = 0;
        while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
        fsyncSync(fd);
    } catch (e) {
        closeSync(fd);
        rmSync(tmp, { force: true });
        throw e;
    }
    closeSync(fd);
    try {
        renameSync(tmp, file);
    } catch (e) {
        rmSync(tmp, { force: true });
        throw e;
    }
    try {
        const dfd = openSync(dir, 'r');
        try { fsyncSync(dfd); } finally { closeSync(dfd); }
    } catch {
        // some file systems refuse to fsync a directory; the rename is still atomic
    }
}
