/** True in a development build (npm run dev, e2e tests): the dev-token sign-in exists. */
declare const __HERALD_DEV_TOKEN__: boolean;
