/**
 * Reads a volume's label and serial from its boot sector, like blkid, for the file systems sticks and SD
 * cards carry (exFAT, FAT12/16/32, NTFS). Pure: the caller supplies the bytes.
 */

export interface FilesystemIdentity {
  readonly fsType: 'exfat' | 'vfat' | 'ntfs';
  readonly volumeSerial: string;
  readonly label?: string;
}

/** Where an exFAT volume's root directory starts (its label entry lives there), in bytes from the start. */
export function exfatRootDirectoryOffset(bootSector: Buffer): number | undefined {
  if (bootSector.length < 512 || bootSector.toString('latin1', 3, 11) !== 'EXFAT   ') return undefined;
  const clusterHeapOffset = bootSector.readUInt32LE(0x58);
  const rootCluster = bootSector.readUInt32LE(0x60);
  const bytesPerSectorShift = bootSector.readUInt8(0x6c);
  const sectorsPerClusterShift = bootSector.readUInt8(0x6d);
  if (rootCluster < 2 || bytesPerSectorShift < 9 || bytesPerSectorShift > 12 || sectorsPerClusterShift > 25) return undefined;
  return clusterHeapOffset * 2 ** bytesPerSectorShift + (rootCluster - 2) * 2 ** (bytesPerSectorShift + sectorsPerClusterShift);
}

function serialDashed(value: number): string {
  const hex = value.toString(16).toUpperCase().padStart(8, '0');
  return `${hex.slice(0, 4)}-${hex.slice(4)}`;
}

function trimmedLabel(bytes: Buffer): string | undefined {
  const label = bytes.toString('latin1').replace(/\0/g, '').trimEnd();
  return label === '' || label === 'NO NAME' ? undefined : label;
}

/** The exFAT volume label directory entry (type 0x83) from the start of the root directory. */
export function exfatLabel(rootDirectory: Buffer): string | undefined {
  for (let offset = 0; offset + 32 <= rootDirectory.length; offset += 32) {
    const type = rootDirectory.readUInt8(offset);
    if (type === 0x00) return undefined;
    if (type === 0x83) {
      const characters = Math.min(rootDirectory.readUInt8(offset + 1), 11);
      return rootDirectory.toString('utf16le', offset + 2, offset + 2 + characters * 2) || undefined;
    }
  }
  return undefined;
}

/**
 * Identifies the file system from its first sector. For exFAT the label is in the root directory: pass it
 * as `rootDirectory` (read from exfatRootDirectoryOffset) to get the label too.
 */
export function probeBootSector(bootSector: Buffer, rootDirectory?: Buffer): FilesystemIdentity | undefined {
  if (bootSector.length < 512) return undefined;
  const oemName = bootSector.toString('latin1', 3, 11);
  if (oemName === 'EXFAT   ') {
    return { fsType: 'exfat', volumeSerial: serialDashed(bootSector.readUInt32LE(0x64)), label: rootDirectory ? exfatLabel(rootDirectory) : undefined };
  }
  if (oemName === 'NTFS    ') {
    return { fsType: 'ntfs', volumeSerial: Buffer.from(bootSector.subarray(0x48, 0x50)).reverse().toString('hex').toUpperCase() };
  }
  if (bootSector.readUInt16LE(510) !== 0xaa55) return undefined;
  if (bootSector.toString('latin1', 0x52, 0x57) === 'FAT32') {
    return { fsType: 'vfat', volumeSerial: serialDashed(bootSector.readUInt32LE(0x43)), label: trimmedLabel(bootSector.subarray(0x47, 0x52)) };
  }
  if (bootSector.toString('latin1', 0x36, 0x39) === 'FAT') {
    return { fsType: 'vfat', volumeSerial: serialDashed(bootSector.readUInt32LE(0x27)), label: trimmedLabel(bootSector.subarray(0x2b, 0x36)) };
  }
  return undefined;
}
