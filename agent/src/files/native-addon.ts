// The one file that loads the native addon (native/). stream-cipher.ts makes a ChunkCipher of it and
// space-reservation.ts preallocates output files with it; everything else asks those two.
import nativeAddon from '@exitseal/native';

/** What native/index.cjs exports: the addon, or null and why. Tests pass one without a binding. */
export interface NativeAddon {
  readonly binding: typeof nativeAddon.binding;
  readonly loadError: string | null;
}

export type NativeBinding = NonNullable<NativeAddon['binding']>;

/** The addon as the install step left it: built, or absent with the loader's reason. */
export const installedNativeAddon: NativeAddon = nativeAddon;
